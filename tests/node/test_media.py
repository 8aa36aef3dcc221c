"""Media across real nodes: upload, multi-source fetch, resume, corruption, priority."""

import hashlib
import os

import httpx
import trio

from node.chunks import ChunkStore
from node.node import Node
from simulations.links import Shape

from .api_client import INCIDENT, client
from .federation import emulated, federation, running, wait_until

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


def held(node: Node, media_id: str) -> int:
    manifest = node.media.manifest(bytes.fromhex(media_id))
    return 0 if manifest is None else node.media.chunks.count(manifest.body.chunks)


async def test_when_the_source_dies_peers_share_what_they_hold_and_all_finish_when_it_returns(tmp_path):
    data = os.urandom(16 * MIB)
    async with emulated(tmp_path, 4) as cluster:
        cluster.links.shape_node(0, Shape(rate_bytes_per_s=3 * MIB))  # the source's links are thin
        async with running(cluster.dirs[1:]) as others:
            async with running(cluster.dirs[:1]) as (source,):
                await wait_until(lambda: all(n.writable for n in [source, *others]), timeout_s=15)
                item = await upload(source, await create_incident(source), data)
                await wait_until(lambda: sum(held(n, item["id"]) for n in others) >= 6, timeout_s=30)
            # The source is gone mid-transfer; the others fetch from each other meanwhile.
            await trio.sleep(3)
            shared = [n.media.sources.get(bytes.fromhex(item["id"]), set()) - {source.peer_id} for n in others]
            assert any(shared), "no chunk was fetched from a peer other than the source"
            assert not all(complete(n, item["id"]) for n in others)
            cluster.links.shape_node(0, Shape(rate_bytes_per_s=50 * MIB))
            async with running(cluster.dirs[:1]):
                await wait_until(lambda: all(complete(n, item["id"]) for n in others), timeout_s=60)
            for node in others:
                assert (await download(node, item["id"])).content == data


async def test_a_receiver_restarted_mid_transfer_resumes_without_fetching_again(tmp_path):
    data = os.urandom(12 * MIB)
    async with emulated(tmp_path, 2) as cluster:
        cluster.links.shape_node(0, Shape(rate_bytes_per_s=2 * MIB))
        async with running(cluster.dirs[:1]) as (source,):
            async with running(cluster.dirs[1:]) as (receiver,):
                await wait_until(lambda: source.writable and receiver.writable, timeout_s=15)
                item = await upload(source, await create_incident(source), data)
                await wait_until(lambda: held(receiver, item["id"]) >= 3, timeout_s=30)
                manifest = receiver.media.manifest(bytes.fromhex(item["id"]))
            kept = ChunkStore(cluster.dirs[1].chunks_path).count(manifest.body.chunks)
            assert 3 <= kept < 12
            async with running(cluster.dirs[1:]) as (again,):
                await wait_until(lambda: complete(again, item["id"]), timeout_s=60)
                assert again.metrics.chunks_fetched._value.get() == 12 - kept
                assert (await download(again, item["id"])).content == data


async def test_corrupted_chunks_from_a_peer_are_rejected_and_the_file_still_completes(tmp_path):
    data = os.urandom(8 * MIB)
    async with emulated(tmp_path, 3) as cluster, running(cluster.dirs[:2]) as (source, corrupt):
        await wait_until(lambda: source.writable and corrupt.writable, timeout_s=15)
        item = await upload(source, await create_incident(source), data)
        await wait_until(lambda: complete(corrupt, item["id"]), timeout_s=30)
        for path in corrupt.media.chunks.root.glob("*/*"):
            path.write_bytes(os.urandom(path.stat().st_size))  # bit rot, or a hostile member
        cluster.links.shape_node(
            0, Shape(rate_bytes_per_s=1 * MIB)
        )  # the honest source is slow: the corrupt peer is asked
        async with running(cluster.dirs[2:]) as (victim,):
            await wait_until(lambda: complete(victim, item["id"]), timeout_s=60)
            assert (await download(victim, item["id"])).content == data
            bad = victim.metrics.rejected.labels("bad_chunk", "chunks")._value.get()
            assert bad >= 1


async def test_a_photo_posted_after_a_large_video_finishes_first_on_a_throttled_path(tmp_path):
    video, photo = os.urandom(24 * MIB), os.urandom(200 * 1024)
    async with emulated(tmp_path, 2) as cluster:
        cluster.links.shape_node(0, Shape(rate_bytes_per_s=4 * MIB))
        async with running(cluster.dirs) as (source, receiver):
            await wait_until(lambda: source.writable and receiver.writable, timeout_s=15)
            incident = await create_incident(source)
            big = await upload(source, incident, video)
            await wait_until(lambda: held(receiver, big["id"]) >= 2, timeout_s=30)
            small = await upload(source, incident, photo, name="suspect.jpg", mime="image/jpeg")
            await wait_until(lambda: complete(receiver, small["id"]), timeout_s=30)
            assert held(receiver, big["id"]) < 24, "the photo waited for the whole video"
            await wait_until(lambda: complete(receiver, big["id"]), timeout_s=60)
