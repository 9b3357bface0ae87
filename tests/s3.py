"""An S3-compatible object store for tests: moto's server, in a thread on a free local port.

MinIO is what deployments run, but it is not installable from the registries this project
builds from; moto speaks the same S3 HTTP API (path-style addressing, multipart uploads,
404s for missing keys), so the real django-storages backend and boto3 talk HTTP to it.

    def test_something(s3_storage):     # default storage is now a fresh bucket
        s3_storage.keys()               # what the bucket holds, read with boto3 directly

`s3_storage` sets STORAGES["default"] through the same `file_storage()` that reads the
environment in settings.py, so the tests exercise the deployed configuration.
"""

import logging
import uuid
from types import SimpleNamespace

import boto3
import pytest

ACCESS_KEY = "portal-test-key"
SECRET_KEY = "portal-test-secret"
REGION = "us-east-1"


@pytest.fixture(scope="session")
def s3_endpoint():
    """The URL of a moto S3 server started once per test session on 127.0.0.1."""
    from moto.server import ThreadedMotoServer

    # Werkzeug logs every request at INFO; the portal's root logger would print them all.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def s3_environment(endpoint, bucket):
    """The environment a deployment sets for EVIDENCE_STORAGE=s3 (see README "Storage")."""
    return {
        "EVIDENCE_STORAGE": "s3",
        "AWS_S3_ENDPOINT_URL": endpoint,
        "AWS_STORAGE_BUCKET_NAME": bucket,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_S3_REGION_NAME": REGION,
    }


@pytest.fixture
def s3_storage(settings, s3_endpoint):
    """Point Django's default storage at a new, empty bucket of the moto server."""
    from chanjgai_portal.settings import file_storage

    bucket = f"evidence-{uuid.uuid4().hex[:16]}"
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    client.create_bucket(Bucket=bucket)
    settings.STORAGES = {**settings.STORAGES, "default": file_storage(s3_environment(s3_endpoint, bucket))}

    def keys():
        """Every object key in the bucket, read with boto3 (not through Django)."""
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return {item["Key"] for page in pages for item in page.get("Contents", ())}

    def read(key):
        return client.get_object(Bucket=bucket, Key=key)["Body"].read()

    return SimpleNamespace(endpoint=s3_endpoint, bucket=bucket, client=client, keys=keys, read=read)
