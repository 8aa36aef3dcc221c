"""Media across real nodes: upload, multi-source fetch, resume, corruption, priority."""

import hashlib
import os

import httpx

from node.node import Node

from .api_client import INCIDENT, client
from .federation import federation, running, wait_until

MIB = 1024 * 1024


async def upload(node: Node, incident: str, data: bytes, name: str = "cctv.mp4", mime: str = "video/mp4") -> dict:
    async def body():
        for i in range(0, len(data), 256 * 1024):
            yield data[i : i + 256 * 1024]

    async with client(node) as api:
        response = await api.post(
            f"/v1/incidents/{incident}/media", params={"name": name}, content=body(), headers={"content-type": mime}
        )
    assert response.status_code == 201, response.text
    return response.json()


async def create_incident(node: Node) -> str:
    async with client(node) as api:
        return (await api.post("/v1/incidents", json=INCIDENT)).json()["id"]


def complete(node: Node, media_id: str) -> bool:
    manifest = node.media.manifest(bytes.fromhex(media_id))
    return manifest is not None and node.media.complete(manifest)


async def download(node: Node, media_id: str, headers: dict | None = None) -> httpx.Response:
    async with client(node) as api:
        return await api.get(f"/v1/media/{media_id}", headers=headers or {})


async def test_a_20_mb_file_uploaded_on_one_of_four_nodes_arrives_byte_identical_on_all(tmp_path):
    data = os.urandom(20 * MIB + 12345)
    async with running(federation(tmp_path, 4)) as nodes:
        await wait_until(lambda: all(n.writable for n in nodes), timeout_s=15)
        incident = await create_incident(nodes[0])
        item = await upload(nodes[0], incident, data)
        assert item["size"] == len(data) and item["chunks"] == 21
        assert item["sha256"] == hashlib.sha256(data).hexdigest()
        await wait_until(lambda: all(complete(n, item["id"]) for n in nodes), timeout_s=60)
        for node in nodes:
            response = await download(node, item["id"])
            assert response.status_code == 200 and response.content == data
            assert response.headers["etag"] == f'"{item["sha256"]}"'
            assert response.headers["content-type"] == "video/mp4"


async def test_ranges_status_and_errors(tmp_path):
    data = os.urandom(3 * MIB)
    async with running(federation(tmp_path, 1)) as (node,):
        incident = await create_incident(node)
        item = await upload(node, incident, data, name="photo.jpg", mime="image/jpeg")
        part = await download(node, item["id"], {"Range": f"bytes={MIB - 10}-{MIB + 9}"})
        assert part.status_code == 206 and part.content == data[MIB - 10 : MIB + 10]
        assert part.headers["content-range"] == f"bytes {MIB - 10}-{MIB + 9}/{len(data)}"
        tail = await download(node, item["id"], {"Range": "bytes=-100"})
        assert tail.content == data[-100:]
        assert (await download(node, item["id"], {"Range": f"bytes={len(data)}-"})).status_code == 416
        async with client(node) as api:
            status = (await api.get(f"/v1/media/{item['id']}/status")).json()
            assert status["complete"] and status["chunks_held"] == status["chunks_total"] == 3
            assert (await api.get("/v1/media/" + "0" * 64)).status_code == 404
            empty = await api.post(f"/v1/incidents/{incident}/media", params={"name": "x"}, content=b"")
            assert empty.status_code == 422
            nameless = await api.post(f"/v1/incidents/{incident}/media", content=b"abc")
            assert nameless.status_code == 422
            unknown = await api.post("/v1/incidents/" + "0" * 64 + "/media", params={"name": "x"}, content=b"abc")
            assert unknown.status_code == 404
            view = (await api.get(f"/v1/incidents/{incident}")).json()
            assert [m["id"] for m in view["media"]] == [item["id"]]
