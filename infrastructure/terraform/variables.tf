variable "environment" {
  description = "dev, staging or prod: names the bucket and the namespace, as infrastructure/k8s/overlays/<environment> expects."
  type        = string

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be dev, staging or prod."
  }
}

variable "region" {
  description = "AWS region of the lake's bucket."
  type        = string
  default     = "eu-west-1"
}

variable "kubeconfig_path" {
  description = "kubeconfig of the cluster the platform runs on."
  type        = string
  default     = "~/.kube/config"
}

variable "kubeconfig_context" {
  description = "Context in the kubeconfig; null: its current context."
  type        = string
  default     = null
}

variable "noncurrent_version_days" {
  description = "Days an overwritten or deleted object of the lake is kept (Delta's own history is kept by its log and VACUUM)."
  type        = number
  default     = 30
}

variable "strimzi_chart_version" {
  description = "Strimzi operator Helm chart: runs the Kafka and KafkaNodePool resources of infrastructure/k8s."
  type        = string
  default     = "1.2.0"
}

variable "spark_operator_chart_version" {
  description = "Kubeflow spark-operator Helm chart: runs the SparkApplication resources of infrastructure/k8s."
  type        = string
  default     = "2.5.2"
}
