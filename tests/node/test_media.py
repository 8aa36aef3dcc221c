"""Media across real nodes: upload, multi-source fetch, resume, corruption, priority,
fairness between members, and collecting what failed uploads leave behind."""

import hashlib
import os
import signal

import httpx
import trio

from node.datadir import DataDir
from node.media.chunks import ChunkStore
from node.node import Node
from protocol import limits
from protocol.body import Media
from protocol.identity import hash32
from simulations.federation import NodeProcess
from simulations.links import Shape

from ..protocol.factories import open_body
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
            # The source is gone mid-transfer; the others fetch from each other meanwhile,
            # until each holds every chunk any of them holds.
            chunks = others[0].media.manifest(bytes.fromhex(item["id"])).body.chunks
            among = {h for n in others for h in chunks if n.media.chunks.has(h)}
            assert len(among) < len(chunks), "the source sent everything before it went"
            await wait_until(lambda: all(all(n.media.chunks.has(h) for h in among) for n in others), timeout_s=30)
            shared = [n.media.sources.get(bytes.fromhex(item["id"]), set()) - {source.peer_id} for n in others]
            assert any(shared), "no chunk was fetched from a peer other than the source"
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
            assert not complete(receiver, big["id"]), "the photo waited for the whole video"
            await wait_until(lambda: complete(receiver, big["id"]), timeout_s=60)


def flood(node: Node, n: int) -> None:
    """A member announces n photos it does not serve (it never had them, or lies)."""
    incident = node.write(open_body()).id
    for i in range(n):
        node.write(Media(incident, f"flood-{i}.jpg", "image/jpeg", 100_000, 100_000, (os.urandom(32),), bytes(32)))


def media_by(node: Node, author: Node) -> int:
    query = "SELECT count(*) FROM entries WHERE author = ? AND kind = ?"
    return node.store.db.execute(query, (author.identity.public_key, int(Media.kind))).fetchone()[0]


async def test_a_member_that_announces_thousands_of_manifests_does_not_hold_back_another_members_photo(tmp_path):
    photo = os.urandom(300 * 1000)
    # Sync alone carries the entries: gossiping thousands costs seconds of CPU in one process.
    async with running(federation(tmp_path, 3, gossip=False)) as (flooder, honest, receiver):
        await wait_until(lambda: all(n.writable for n in (flooder, honest, receiver)), timeout_s=15)
        flood(flooder, 1500)  # more than the 1024 items the planner used to hold
        await wait_until(lambda: media_by(receiver, flooder) == 1500, timeout_s=60)
        item = await upload(honest, await create_incident(honest), photo, name="suspect.jpg", mime="image/jpeg")
        await wait_until(lambda: complete(receiver, item["id"]), timeout_s=30)
        assert (await download(receiver, item["id"])).content == photo
        share = receiver.media.planner.authors[flooder.identity.public_key]
        assert share.active <= limits.fetches_active_per_author_max
        assert len(share.waiting) <= limits.fetches_waiting_per_author_max


async def cut_off_upload(api: tuple[str, int], token: str, incident: str, head: bytes) -> trio.SocketStream:
    """Start uploading a file twice as long as `head`, send `head` only; the caller hangs up."""
    stream = await trio.open_tcp_stream(*api)
    request = (
        f"POST /v1/incidents/{incident}/media?name=cut.mp4 HTTP/1.1\r\nHost: {api[0]}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: video/mp4\r\nContent-Length: {2 * len(head)}\r\n\r\n"
    )
    await stream.send_all(request.encode() + head)
    return stream


def chunk_files(datadir: DataDir) -> set[bytes]:
    """The chunk files on disk, read without touching them (a ChunkStore opened on a live
    node's directory would delete the temporary files of its writes in progress)."""
    return {bytes.fromhex(f.name) for f in datadir.chunks_path.glob("*/*") if len(f.name) == 64}


def hashes_of(data: bytes) -> set[bytes]:
    return {hash32(data[i : i + MIB]) for i in range(0, len(data), MIB)}


async def test_an_upload_cut_off_mid_body_leaves_no_chunk_behind_but_those_a_manifest_lists(tmp_path):
    kept = os.urandom(2 * MIB)
    head = kept[:MIB] + os.urandom(2 * MIB)  # its first chunk is also the first of a stored file
    async with running(federation(tmp_path, 1)) as (node,):
        incident = await create_incident(node)
        item = await upload(node, incident, kept)
        api = (node.config.api_host, node.config.api_port)
        stream = await cut_off_upload(api, node.datadir.token(), incident, head)
        await wait_until(lambda: hashes_of(head) <= node.media.chunks.hashes())  # stored as they came
        await stream.aclose()  # the client goes away
        await wait_until(lambda: node.media.chunks.hashes() == hashes_of(kept))
        assert chunk_files(node.datadir) == hashes_of(kept)
        assert node.metrics.chunks_collected._value.get() == 2  # the first chunk is the stored file's
        assert (await download(node, item["id"])).content == kept


async def test_a_restart_after_a_crash_mid_upload_removes_what_the_upload_stored(tmp_path):
    kept = os.urandom(2 * MIB)
    head = os.urandom(3 * MIB)
    (datadir,) = federation(tmp_path, 1)
    process = NodeProcess(datadir, tmp_path / "node.log")
    process.start()
    try:
        async with process.client() as api:
            await until_healthy(api)
            incident = (await api.post("/v1/incidents", json=INCIDENT)).json()["id"]
            stored = await api.post(f"/v1/incidents/{incident}/media", params={"name": "kept.mp4"}, content=kept)
            assert stored.status_code == 201
        config = datadir.config()
        stream = await cut_off_upload((config.api_host, config.api_port), datadir.token(), incident, head)
        await wait_until(lambda: hashes_of(head) <= chunk_files(datadir), timeout_s=30)
        process.stop(signal.SIGKILL)  # mid-upload: no manifest, chunks on disk
        await stream.aclose()
    finally:
        process.stop(signal.SIGKILL)
    assert hashes_of(head) <= chunk_files(datadir)
    async with running([datadir]) as (node,):
        await wait_until(lambda: chunk_files(datadir) == hashes_of(kept))
        assert node.media.chunks.hashes() == hashes_of(kept)
        assert node.metrics.chunks_collected._value.get() == 3
        assert (await download(node, stored.json()["id"])).content == kept


async def until_healthy(api: httpx.AsyncClient) -> None:
    with trio.fail_after(30):
        while True:
            try:
                if (await api.get("/v1/health")).status_code == 200:
                    return
            except httpx.TransportError:  # not listening yet
                pass
            await trio.sleep(0.1)
