# The lake's object storage, the platform's namespace and the cluster add-ons its manifests need:
# the Strimzi operator (Kafka) and spark-operator (SparkApplication), both watching the namespace.

locals {
  namespace = var.environment == "prod" ? "lakehouse" : "lakehouse-${var.environment}"
  bucket    = "lakehouse-${var.environment}-lake"
  tags = {
    "app.kubernetes.io/part-of" = "lakehouse"
    environment                 = var.environment
  }
}

resource "aws_s3_bucket" "lake" {
  bucket = local.bucket
}

resource "aws_s3_bucket_versioning" "lake" {
  bucket = aws_s3_bucket.lake.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "lake" {
  bucket = aws_s3_bucket.lake.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "aws:kms"
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "lake" {
  bucket                  = aws_s3_bucket.lake.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_lifecycle_configuration" "lake" {
  bucket = aws_s3_bucket.lake.id

  rule {
    id     = "expire-noncurrent-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

resource "kubernetes_namespace_v1" "lakehouse" {
  metadata {
    name   = local.namespace
    labels = local.tags
  }
}

resource "helm_release" "strimzi" {
  name             = "strimzi"
  repository       = "https://strimzi.io/charts/"
  chart            = "strimzi-kafka-operator"
  version          = var.strimzi_chart_version
  namespace        = "strimzi-system"
  create_namespace = true

  set_list = [{
    name  = "watchNamespaces"
    value = [kubernetes_namespace_v1.lakehouse.metadata[0].name]
  }]
}

resource "helm_release" "spark_operator" {
  name             = "spark-operator"
  repository       = "https://kubeflow.github.io/spark-operator"
  chart            = "spark-operator"
  version          = var.spark_operator_chart_version
  namespace        = "spark-operator"
  create_namespace = true

  set_list = [{
    name  = "spark.jobNamespaces"
    value = [kubernetes_namespace_v1.lakehouse.metadata[0].name]
  }]

  set = [
    {
      # the service account the SparkApplications' drivers run as (infrastructure/k8s)
      name  = "spark.serviceAccount.name"
      value = "spark"
    },
  ]
}
