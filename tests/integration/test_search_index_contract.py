"""ONE contract for the search index, run against every SearchIndex (DynamoDB on moto, through
the tenant-term index; and in memory): idempotent puts, tenants apart, nothing left by remove,
the TTL on every item."""

import boto3
import pytest

from chalicelib.search.dynamo import DynamoSearchIndex
from chalicelib.search.index import InMemorySearchIndex
from chalicelib.search.terms import job_postings
from tests.support.search import a_job, label, segments, text

EXPIRES_AT = 1_900_000_000


@pytest.fixture(params=["dynamodb", "memory"])
def index(request):
    if request.param == "dynamodb":
        settings = request.getfixturevalue("aws").settings
        return DynamoSearchIndex(settings.table_name, region=settings.region)
    return InMemorySearchIndex()


def put(index, job, document):
    postings = job_postings(job, document)
    index.put(job.job_id, job.tenant, postings, EXPIRES_AT)
    return postings


def jobs_of(index, tenant, term):
    return sorted(p.job_id for p in index.postings(tenant, term, 100))


def test_a_put_is_read_back_by_term_for_its_tenant_only(index):
    acme, globex = a_job("acme"), a_job("globex")
    written = put(index, acme, segments([text("Exit now", 0, 1000)], [label("car", 0, 500)]))
    put(index, globex, segments([text("EXIT", 0, 1000)]))
    (found,) = index.postings("acme", "t:exit", 100)
    assert found == next(p for p in written if p.term == "t:exit")
    assert jobs_of(index, "globex", "t:exit") == [globex.job_id]
    assert jobs_of(index, "acme", "l:vehicle") == [acme.job_id]
    assert index.postings("globex", "l:car", 100) == []
    assert index.postings("acme", "t:nothing", 100) == []


def test_putting_again_overwrites_and_drops_terms_no_longer_there(index):
    job = a_job()
    put(index, job, segments([text("exit", 0, 1000), text("stop", 0, 10)]))
    put(index, job, segments([text("exit", 0, 1000), text("stop", 0, 10)]))  # a redelivery
    assert jobs_of(index, "acme", "t:exit") == [job.job_id]
    put(index, job, segments([text("exit", 0, 2000)]))
    assert index.postings("acme", "t:stop", 100) == []
    assert [p.spans[0].end_ms for p in index.postings("acme", "t:exit", 100)] == [2000]


def test_remove_takes_every_item_of_the_job_and_no_other(index):
    doomed, kept = a_job(), a_job()
    put(index, doomed, segments([text("exit left", 0, 1)], [label("dog", 0, 1)]))
    put(index, kept, segments([text("exit", 0, 1)]))
    assert index.remove(doomed.job_id) == 4  # exit, left, dog, animal
    assert index.remove(doomed.job_id) == 0
    assert jobs_of(index, "acme", "t:exit") == [kept.job_id]
    assert index.postings("acme", "l:dog", 100) == []


def test_postings_are_read_up_to_the_limit(index):
    for _ in range(3):
        put(index, a_job(), segments([text("exit", 0, 1)]))
    assert len(index.postings("acme", "t:exit", 2)) == 2


def test_on_dynamodb_every_item_carries_the_ttl_and_a_put_cut_short_is_removed(aws):
    settings = aws.settings
    index = DynamoSearchIndex(settings.table_name, region=settings.region)
    job = a_job()
    postings = job_postings(job, segments([text("exit left", 0, 1)]))
    index._write_terms(job.job_id, job.tenant, [p.term for p in postings], EXPIRES_AT)
    index._write(postings[:1], EXPIRES_AT)  # the writer died here
    table = boto3.client("dynamodb", region_name=settings.region)
    items = table.scan(TableName=settings.table_name)["Items"]
    assert len(items) == 2 and all(item["expires_at"] == {"N": str(EXPIRES_AT)} for item in items)
    assert all({"list_tenant", "status"}.isdisjoint(item) for item in items)  # listing, sweep
    assert index.remove(job.job_id) == 2
    assert table.scan(TableName=settings.table_name)["Items"] == []
