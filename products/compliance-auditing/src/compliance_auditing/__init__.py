"""compliance-auditing: a tamper-evident audit trail of every read and write of the lake's data
(from ``platform.audit.v1``), and the right to erasure with proof: a person's rows deleted from
every catalogued table and physically removed from its history, with a signed certificate."""

PRODUCT = "compliance-auditing"
