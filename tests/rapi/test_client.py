"""The RAPI client against a fake cluster over real TLS: answers, and each way it fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from ganeti_agent.rapi import client as rapi_client
from ganeti_agent.rapi import jobs
from ganeti_agent.rapi.client import (
    RapiConnectionError,
    RapiHttpError,
    RapiResponseError,
    RapiTlsError,
)
from ganeti_agent.rapi.testing import instance_records
from tests.rapi.support import at, certificate, served
from tests.support import async_test, free_port


@async_test
async def test_answers_and_sends_what_ganeti_client_sends(tmp_path: Path) -> None:
    async with served(tmp_path, read_needs_auth=True) as rapi:
        client = rapi.client()
        assert await client.get_version() == 2
        assert "instance-create-reqv1" in await client.get_features()
        rapi.cluster.add_instance(*instance_records("web1"))
        job = await client.get_instance_info("web1", static=True)
        result = await client.wait_for_job(job)
    assert at(result, 0, "web1", "name") == "web1"
    info_request, wait_request, job_request = rapi.cluster.requests[-3:]
    assert (info_request.path, info_request.query) == ("/2/instances/web1/info", [("static", "1")])
    assert wait_request.body == {
        "fields": ["status"],
        "previous_job_info": None,
        "previous_log_serial": None,
    }
    assert job_request.path == f"/2/jobs/{job}"


@async_test
async def test_wrong_password_is_401(tmp_path: Path) -> None:
    async with served(tmp_path, read_needs_auth=True) as rapi:
        with pytest.raises(RapiHttpError) as caught:
            await rapi.client(password="wrong").get_version()
    assert caught.value.code == 401
    assert "401 Unauthorized" in str(caught.value)


@async_test
async def test_write_access_probe(tmp_path: Path) -> None:
    users = {"admin": ("secret", True), "reader": ("secret", False)}
    async with served(tmp_path, users=users) as rapi:
        await rapi.client().check_write_access()
        with pytest.raises(RapiHttpError) as caught:
            await rapi.client(username="reader").check_write_access()
        assert caught.value.code == 403
        with pytest.raises(RapiHttpError) as anonymous:
            await rapi.client(username=None, password=None).check_write_access()
        assert anonymous.value.code == 401
    assert {request.path for request in rapi.cluster.requests} == {"/2/jobs/0/wait"}


@async_test
async def test_unknown_instance_is_404_with_the_explanation(tmp_path: Path) -> None:
    async with served(tmp_path) as rapi:
        with pytest.raises(RapiHttpError) as caught:
            await rapi.client().get_instance("ghost.example.com")
    assert caught.value.code == 404
    assert "Instance 'ghost.example.com' not known" in caught.value.text


@async_test
async def test_certificate_not_matching_the_ca_file(tmp_path: Path) -> None:
    other = tmp_path / "other.pem"
    other.write_bytes(certificate("another-ca")[1])
    async with served(tmp_path) as rapi:
        with pytest.raises(RapiTlsError) as caught:
            await rapi.client(ca_file=other).get_version()
    assert f"does not verify against the CA file {other}" in str(caught.value)
    assert rapi.cluster.requests == []


def test_unreadable_ca_file(tmp_path: Path) -> None:
    with pytest.raises(RapiTlsError, match="cannot read CA file"):
        rapi_client.policy_for_ca_file(str(tmp_path / "missing.pem"))
    empty = tmp_path / "empty.pem"
    empty.write_text("not a certificate\n")
    with pytest.raises(RapiTlsError, match="holds no usable certificate"):
        rapi_client.policy_for_ca_file(str(empty))


@async_test
async def test_nobody_listening(tmp_path: Path) -> None:
    async with served(tmp_path) as rapi:
        client = rapi.client(port=free_port())
        with pytest.raises(RapiConnectionError, match="cannot connect"):
            await client.get_version()


@async_test
async def test_failed_job_says_why(tmp_path: Path) -> None:
    async with served(tmp_path) as rapi:
        rapi.cluster.add_instance(*instance_records("web1"))
        rapi.cluster.failures["info"] = ["OpPrereqError", ["Instance is busy", "wrong_state"]]
        client = rapi.client()
        job = await client.get_instance_info("web1", static=True)
        with pytest.raises(jobs.JobFailed) as caught:
            await client.wait_for_job(job)
    assert str(caught.value) == f"job {job} failed: OpPrereqError: Instance is busy (wrong_state)"


@async_test
async def test_dropped_wait_is_asked_again(tmp_path: Path) -> None:
    async with served(tmp_path) as rapi:
        rapi.cluster.add_instance(*instance_records("web1"))
        rapi.cluster.drop_waits = 2
        client = rapi.client()
        job = await client.get_instance_info("web1", static=True)
        assert at(await client.wait_for_job(job), 0, "web1", "name") == "web1"
        waits = [r for r in rapi.cluster.requests if r.path.endswith("/wait")]
        assert len(waits) == 3
        rapi.cluster.drop_waits = rapi_client.WAIT_RETRIES + 1
        job = await client.get_instance_info("web1", static=True)
        with pytest.raises(RapiConnectionError, match="connection broken"):
            await client.wait_for_job(job)


@async_test
async def test_answer_of_the_wrong_shape_is_a_response_error(tmp_path: Path) -> None:
    async with served(tmp_path) as rapi:
        rapi.cluster.features = {"instance-create-reqv1": True}
        with pytest.raises(RapiResponseError, match="/2/features: expected an array, got object"):
            await rapi.client().get_features()
        rapi.cluster.features = None
        assert await rapi.client().get_features() == []


@async_test
async def test_lost_job(tmp_path: Path) -> None:
    async with served(tmp_path) as rapi:
        with pytest.raises(jobs.JobLost):
            await rapi.client().wait_for_job("4242")


@async_test
async def test_answer_size_is_bounded(tmp_path: Path) -> None:
    async with served(tmp_path) as rapi:
        rapi.cluster.info = {"padding": "x" * (rapi_client.MAX_RESPONSE_BYTES + 1)}
        with pytest.raises(RapiResponseError, match="larger than"):
            await rapi.client().get_info()


def test_query_encoding_follows_ganeti() -> None:
    assert rapi_client.encode_query([("static", True), ("a", None), ("n", 3)]) == "static=1&a=&n=3"
    with pytest.raises(ValueError, match="invalid query data type"):
        rapi_client.encode_query([("x", [1])])
    assert rapi_client.encode_body({"b": 1, "a": None}) == b'{"a": null, "b": 1}'


@async_test
async def test_a_malformed_wait_answer_is_one_bounded_response_error(tmp_path: Path) -> None:
    async with served(tmp_path) as rapi:
        rapi.cluster.add_instance(*instance_records("web1"))
        client = rapi.client()
        job = await client.get_instance_info("web1", static=True)
        rapi.cluster.jobs[int(job)].log.append([99, "x" * 100_000])
        with pytest.raises(RapiResponseError, match=f"job {job}: malformed log entries") as caught:
            await client.wait_for_job(job)
    assert len(str(caught.value)) < 400
