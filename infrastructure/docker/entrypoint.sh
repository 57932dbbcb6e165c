#!/bin/bash
# The product and platform images' entry point. spark-operator starts a SparkApplication's driver
# and executor pods with `driver …` and `executor` as arguments, the contract of Spark's own image
# (kubernetes/dockerfiles/spark/entrypoint.sh in Spark's source); anything else is a command of the
# image's program: the product's command line, or `lakehouse` in the platform image.
set -euo pipefail
spark_home() { python -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))'; }
case "${1:-}" in
  driver)
    shift
    exec "$(spark_home)/bin/spark-submit" --conf "spark.driver.bindAddress=${SPARK_DRIVER_BIND_ADDRESS}" \
      --deploy-mode client "$@"
    ;;
  executor)
    home="$(spark_home)"
    readarray -t java_options < <(env | grep '^SPARK_JAVA_OPT_' | sort -t_ -k4 -n | sed 's/^[^=]*=//')
    exec java "${java_options[@]}" -Xms"${SPARK_EXECUTOR_MEMORY}" -Xmx"${SPARK_EXECUTOR_MEMORY}" \
      -cp "${home}/jars/*:${LAKEHOUSE_JARS_DIR}/spark/*" \
      org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend \
      --driver-url "${SPARK_DRIVER_URL}" --executor-id "${SPARK_EXECUTOR_ID}" \
      --cores "${SPARK_EXECUTOR_CORES}" --app-id "${SPARK_APPLICATION_ID}" \
      --hostname "${SPARK_EXECUTOR_POD_IP}" --resourceProfileId "${SPARK_RESOURCE_PROFILE_ID}" \
      --podName "${SPARK_EXECUTOR_POD_NAME}"
    ;;
  *)
    exec lakehouse-command "$@"
    ;;
esac
