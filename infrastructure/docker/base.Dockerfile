# The image every product image starts from: Python 3.11, a Java 17 runtime for Spark, and the
# Spark jars of infrastructure/jvm/pom.xml (Delta Lake, the Kafka source, Hadoop's S3A for an
# s3a:// lake) resolved by Maven.
# The Kafka profile of the POM is left out: containers use a Kafka cluster, not the local broker.
# Build from the repository root:
#   docker build -f infrastructure/docker/base.Dockerfile -t lakehouse-base .

FROM maven:3.9.11-eclipse-temurin-17 AS jars
WORKDIR /build
COPY infrastructure/jvm/pom.xml infrastructure/jvm/pom.xml
RUN mvn -q -B -f infrastructure/jvm/pom.xml -Pspark -Djars.dir=/opt/lakehouse/jars \
        dependency:copy-dependencies \
    && mvn -q -B -f infrastructure/jvm/pom.xml -Ps3 -Djars.dir=/opt/lakehouse/jars \
        dependency:copy-dependencies \
    && ls /opt/lakehouse/jars/spark/*.jar

FROM python:3.11.14-slim-bookworm
RUN apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless=17.* \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 lakehouse \
    && useradd --system --uid 10001 --gid lakehouse --home-dir /srv/lakehouse --create-home lakehouse
COPY --from=jars /opt/lakehouse/jars /opt/lakehouse/jars
ENV JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64 \
    LAKEHOUSE_HOME=/srv/lakehouse \
    LAKEHOUSE_JARS_DIR=/opt/lakehouse/jars \
    LAKEHOUSE_LAKE_ROOT=/srv/lakehouse/data_lake \
    LAKEHOUSE_STATE_DIR=/srv/lakehouse/state \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
USER 10001:10001
WORKDIR /srv/lakehouse
