output "namespace" {
  description = "The platform's namespace: `namespace` of infrastructure/k8s/overlays/<environment>."
  value       = kubernetes_namespace_v1.lakehouse.metadata[0].name
}

output "lake_bucket" {
  description = "The lake's bucket."
  value       = aws_s3_bucket.lake.bucket
}

output "lake_root" {
  description = "LAKEHOUSE_LAKE_ROOT for every process (the lakehouse-platform ConfigMap)."
  value       = "s3a://${aws_s3_bucket.lake.bucket}/lake"
}

output "kafka_bootstrap_servers" {
  description = "LAKEHOUSE_KAFKA_BOOTSTRAP_SERVERS: the Strimzi cluster's bootstrap service."
  value       = "lakehouse-kafka-bootstrap.${kubernetes_namespace_v1.lakehouse.metadata[0].name}.svc:9092"
}
