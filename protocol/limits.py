"""Every bound in QROC Mesh, named once, unit last, with the reason it exists.

Anything that reads from the network, the disk or an API client is bounded by one of
these. Changing a wire-visible limit (marked "wire") changes what other nodes accept:
treat it as a protocol change and update SPEC.md.
"""

# --- entries (wire) ---
# A manifest for a media_bytes_max file lists media_chunks_max hashes of 34 bytes each
# (~140 KiB); the rest of an entry is small. 256 KiB leaves room and stays far below
# py-libp2p's 1 MiB gossip ceiling, over which publishes are silently delivered locally only.
entry_bytes_max = 256 * 1024
# Nesting depth: the arrays and maps on the path from the top item to the deepest one,
# the top one counted. The schema needs at most 5 (entry content, body, tags removed,
# one removal, its ids); anything deeper is hostile. Checked while decoding.
cbor_depth_max = 8
# Free-text fields: an incident title is a headline, a description or comment a report.
title_chars_max = 200
text_chars_max = 16 * 1024
place_chars_max = 200
tag_chars_max = 64
tags_max = 64
# A removal names the adds of its tag it observed (add-wins); more than this many live adds
# of one tag means many members tagged it at once, and a removal naming them all would be
# a long entry. The API refuses such a removal with a clear error.
tag_remove_ids_max = 64
exercise_chars_max = 100
# An operator's display name (content key 8): a person's name and perhaps a role.
operator_chars_max = 64
file_name_chars_max = 255
mime_chars_max = 127
name_chars_max = 100
# An entry's HLC may be at most this far ahead of the receiver's clock: a node whose clock
# is off by a year must not drag the federation's clocks along. Five minutes tolerates
# unsynchronised but sane clocks; entries further ahead wait and are retried by sync.
clock_skew_ms_max = 5 * 60 * 1000
# The HLC packs milliseconds and a 16-bit logical counter into one uint64.
hlc_counter_max = 0xFFFF
# Members' clocks (each sync session starts with the sender's) older than this are not
# counted when judging whether our clock is ahead of the federation's (protocol/gate.py).
clock_sample_ms_max = 10 * 60 * 1000

# `qroc repair clock` removes our own entries written this far ahead of the wall clock
# (and those after them): no member with a sane clock can have accepted them. Entries
# less far ahead become acceptable soon, and may be stored somewhere already: wait.
clock_repair_ahead_ms_min = 60 * 60 * 1000

# --- the write gate (protocol/gate.py) ---
# A node that holds some of its own log and reached no member since start writes after
# this long: an OC cut off at start-up must still record. Long enough for the dialer to
# reach a member that is up (a few seconds) and sync, short for a duty officer.
own_log_wait_ms = 30_000

# --- roster ---
# A federation is the EU's member states plus partners: a few dozen OCs, not thousands.
roster_members_max = 256
member_addrs_max = 8
addr_chars_max = 256
# Governance (protocol/governance.py). A quorum is a simple fraction ("2/3"); a larger
# denominator would only let rounding hide what the rule means.
quorum_denominator_max = 100
# Proposals, approvals and address announcements a federation's history may hold: one
# admission costs about n of them; this is decades of changes for a few dozen members,
# and the fold reads them all on every change.
governance_entries_max = 100_000

# --- log bookkeeping ---
# Entries that arrived before their predecessor wait here until sync fills the gap.
# Bounded so a member that sends a far-future seq cannot make us hold unbounded memory;
# beyond it, the entries are dropped and sync brings them again in order.
pending_entries_max = 10_000
pending_entries_per_author_max = 2_000

# --- sync (wire) ---
# One sync message carries at most this many entries and about this many bytes: enough to
# move thousands of entries a second over a stream, small enough that a thin link still
# makes progress and a receiver's buffer stays bounded.
sync_batch_entries_max = 512
sync_message_bytes_max = 4 * 1024 * 1024
# What a sender puts in one message of entries and fork proofs together (the rest of the
# message — heads, wants, samples — is bounded by count, well under the other half).
sync_batch_bytes_max = sync_message_bytes_max // 2
# Fork proofs and explicit entry requests are rare; a message holding more is hostile.
sync_forks_max = 64
sync_wants_max = 256
# Fork descent (protocol/sync.py): ids of our chain at this many seqs per author and
# message narrow the doubt 257-fold a message (11 KiB an author), for a few authors at once.
sync_samples_max = 256
sync_sample_authors_max = 16

# --- media (wire) ---
# Chunks of 1 MiB: large enough that per-chunk overhead is negligible, small enough that
# a lost connection wastes little and a receiver verifies each before storing it.
chunk_bytes_max = 1024 * 1024
media_bytes_max = 4 * 1024 * 1024 * 1024
media_chunks_max = media_bytes_max // chunk_bytes_max
# zstd needs a window no larger than what it compresses; a frame asking for more is a
# memory attack. 2 MiB covers any 1 MiB chunk compressed at any level.
zstd_window_bytes_max = 2 * 1024 * 1024

# --- node (local, not wire) ---
# Redial roster members quickly: a restarted OC must be back in the mesh within ~2 s.
# The delay doubles from the first value after each failed dial, up to the second.
redial_delay_ms_min = 250
redial_delay_ms_max = 2000
# Every connected member is asked to echo a byte this often (node/mesh/liveness.py): the
# fallback where the kernel's TCP_INFO is not available finds a silent failure within a
# minute; with it, a stall is found within seconds (below).
liveness_probe_interval_ms = 5_000
# A probe fails without an echo within this. Generous: on a thin link saturated by
# media the probe queues behind a full TCP send buffer.
liveness_timeout_ms = 20_000
# Failed probes in a row before the connection is closed: one can fail on a node that
# is briefly overloaded (its stream negotiation times out).
liveness_probes_missed_max = 2
# --- silent link failures (node/mesh/liveness.py, node/mesh/host.py) ---
# Each connection's TCP_INFO is read this often: one getsockopt per connection, and the
# delay before a stall is seen.
stall_check_interval_ms = 250
# Unacknowledged data that made no progress this long after the kernel's retransmission
# timer fired is a stall: longer than a working link takes to acknowledge a spurious
# retransmission, so the path is probed only when a loss is real.
stall_ms_min = 1000
# After a path probe is answered, a stalled connection gets this long (plus two of its
# round trips) to show progress before it is judged stuck in back-off: a delayed ACK
# (up to 200 ms on Linux) sent just before the probe's answer is not a stall.
stall_confirm_ms = 250
# A stall this long means the link is down: the connection is closed and the dialer
# takes over. Far beyond any queueing delay a working link shows...
stall_close_ms = 5000
# ... and beyond this many of the connection's own round trips (a link with a huge queue
# has a long smoothed RTT, and so a longer allowance).
stall_close_rtts = 8

PROTOCOL_ID = "/qroc/alive/1"
# A path that drops packets is probed with a bare TCP connect this often: a link that
# returns is seen within this (plus a round trip), instead of at the next SYN
# retransmission of a hanging dial or after the redial back-off.
path_probe_interval_ms = 500
# A path probe waits this long for an answer (SYN-ACK or reset), so on a path slow enough
# to need it the probes overlap. A dial needs three round trips or more within
# dial_timeout_ms_max, so a path where a dial can succeed answers well within this.
path_probe_timeout_ms = 2000
# When a member's path returns after being down, both ends see it within a probe
# interval and would dial each other at once; py-libp2p then keeps both connections, and
# the node that was cut pays for twice the handshakes at the moment it has most to do.
# The end with the greater peer ID gives the other this long to dial first.
dial_yield_ms = 1000
# The dialer looks for members to dial this often (and at once when a member leaves).
dial_check_ms = 500
# A dial that takes longer than this is abandoned (a black-holed link hangs a TCP SYN).
dial_timeout_ms_max = 5000
# Concurrent sync sessions (inbound plus outbound): each holds up to two messages of
# sync_message_bytes_max in memory; a flood of inbound streams must not exhaust memory.
sync_sessions_max = 16
# Of those, what one member may hold (one each way, and one more while a session that is
# ending overlaps the next): a member that keeps sessions open slows only itself.
sync_sessions_per_peer_max = 3
# A sync peer that sends nothing for this long is gone; its session ends.
sync_message_timeout_ms_max = 30_000
# A session that is still exchanging after this many messages is misbehaving.
sync_session_messages_max = 10_000
# Gossip (protocol/gossip.py). A covered member is named by this many bytes of its key:
# 2^-64 odds that two of a few hundred members share one, and a push stays small.
gossip_tag_bytes = 8
# Pushes per frame: one frame carries what waited while the last was written, so a burst
# costs a few frames, not one each; and a frame stays well under a sync message.
gossip_frame_pushes_max = 16
# A frame: its pushes at their largest (an entry and a full covered set each), and heads.
gossip_frame_bytes_max = gossip_frame_pushes_max * (entry_bytes_max + 4096) + 64 * 1024
# Entry ids gossip remembers having seen (32 bytes each): a duplicate push among them is
# dropped unvalidated. Minutes of our peak rate; an older duplicate is validated again
# and found a duplicate by the replica.
gossip_seen_max = 16_384
# What waits to be written to one member: a second of our peak rate. Beyond, a push is
# dropped and sync carries it (a member that does not read slows only itself).
gossip_queue_max = 1024
# Group commit (node/commit.py): our own entries committed and waiting for the fsync that
# makes them durable. One fsync takes about a millisecond, so a few hundred wait at most on
# a working disk; this many mean the disk has stalled, and writes are refused until it
# catches up instead of piling up in memory.
unflushed_entries_max = 10_000
# The WAL is copied into the database (a checkpoint, on the group commit's worker thread)
# at most this often while anything changed: it bounds the WAL to what is written in that
# time (at 100 entries/s, a few MiB), and each checkpoint costs two fsyncs and a copy of
# every page changed since the last (every second, that was 3 % of a node's CPU).
checkpoint_interval_ms = 5_000
# A sync session that fails is tried again this many times, this long apart, while the
# member stays connected: the session that follows a reconnection repairs a partition.
sync_attempts_max = 3
sync_retry_ms = 1000
# Shutdown: closing a host with a handful of connections takes 1.2-1.6 s (measured);
# a stream that does not close at once is abandoned; HTTP clients get this long to finish.
host_close_ms_max = 3000
stream_close_ms_max = 1000
api_shutdown_ms_max = 1000
# An idle API connection is kept this long (hypercorn's default is 5 s). Tools poll at
# pauses of seconds; a client that reused a connection the server was closing at that
# moment saw "server disconnected" (the exercise simulator, once, after a 6 s pause).
api_keep_alive_ms = 75_000
# Pending-gap sync requests: one per peer at a time is enough.
sync_requests_max = 64

# Incident summaries (the stored table the API's lists filter and order) are rewritten this
# long after a change, every incident changed meanwhile in one transaction: one summary and
# one commit per entry was a seventh of a node's CPU under gossip. Readers flush first.
views_flush_ms = 200

# Ids bound in one SQL statement: far below SQLite's own limit (32,766 since 3.32) and
# enough that an incident's comments take one or two statements.
sql_variables_max = 500

# --- HTTP API (local) ---
# JSON bodies are small records; anything larger than this is not an incident update.
api_body_bytes_max = 64 * 1024
# One page of incidents; a dashboard pages through more.
api_page_items_max = 500
# Responses smaller than this go uncompressed (gzip would save little and cost a header).
api_gzip_bytes_min = 1024
# An incident's timeline lists at most this many entries (the oldest): a page of them.
api_timeline_entries_max = 2_000

# Delivery receipts: the members that gossiped each of this many recent entries to us
# are remembered (about 100 bytes each), so the sender sees them as delivered before the
# next sync with them.
receipts_forwarded_max = 16_384
# Every member announces its heads to each connected member this often (gossip): delivery
# receipts turn green within seconds of delivery. A member whose heads still lack what we
# held two announcements ago is synced with: gossip missed it.
receipts_sync_ms = 2_000

# --- operator console sessions (node/operators.py, node/api/auth.py) ---
# Passwords: short ones fall to guessing even through a memory-hard hash; the upper bound
# only keeps a request from making us hash megabytes.
password_chars_min = 10
password_chars_max = 1024
# A session lasts one duty shift at most, and ends after two hours without a request (an
# open console asks every few seconds, so only an abandoned one idles out).
session_ms_max = 12 * 3600 * 1000
session_idle_ms_max = 2 * 3600 * 1000
# A session's idle clock is written at most this often (not a write per request).
session_touch_ms = 60_000
# Sessions one operator may hold (browsers, wall screen); logging in beyond ends the oldest.
sessions_per_operator_max = 8
# Failed logins: after this many for one name or one client address within the window,
# further attempts are refused (429) until the window passes. The tracker forgets the
# oldest of at most login_trackers_max names and addresses.
login_failures_max = 5
login_window_ms = 60_000
login_trackers_max = 4096
# Argon2id checks at once (each takes 64 MiB for about 0.1 s, in a worker thread).
login_checks_concurrent_max = 2
# Logins waiting for a check beyond this are refused (429): a flood of guesses must not
# queue without end in front of the officers' own logins.
login_checks_waiting_max = 8
# Live-event clients: each holds a connection and a task; an OC has a handful of tools.
api_event_clients_max = 64
# A client gets this long to finish sending a refused upload, so that it reads the refusal
# (then the connection is closed under it).
upload_drain_ms_max = 30_000
# Events replayed or sent to one client per batch.
api_event_batch_max = 256
# A live-event stream sends a comment this often when idle, so proxies and clients see
# it alive, and looks for new entries at least this often.
api_event_keepalive_ms = 15_000

# --- media transfer ---
# Chunk requests in flight to one peer: enough to fill a long fat link with 1 MiB chunks,
# few enough that a slow peer does not hold many chunks hostage.
chunk_requests_per_peer_max = 4
# Chunk requests one node serves at once to one peer; more wait (their stream stalls).
chunk_serves_per_peer_max = 4
# A peer that served a bad chunk is not asked again for this long.
bad_peer_penalty_ms = 60_000
# How long a peer's list of held chunks is trusted before we ask again: short, so that
# chunks a peer fetched a moment ago can be fetched from it too (swarming).
have_refresh_ms = 250
# A peer whose bitmap is older than this (it stopped answering) is not counted on to
# serve a chunk: the author is asked instead.
have_stale_ms = 4 * have_refresh_ms
# A peer with a chunk request of ours open longer than this is on a thin link (our four
# 1 MiB requests open 2 s is 16 Mbit/s) and is not counted on either.
chunk_slow_ms = 2_000
# A receiver whose bitmap gained no chunk this long is not getting its home chunks (it is
# away, fetches on demand only, or its link is thin): the others ask the author for them.
# Eight bitmap refreshes: a receiver on a link of 4 Mbit/s or more gains a 1 MiB chunk
# more often than this.
home_stall_ms = 8 * have_refresh_ms
# One author's items fetched at once: four single-chunk photos keep the
# chunk_requests_per_peer_max requests to one peer busy; more only let one member's
# announcements crowd the planner.
fetches_active_per_author_max = 4
# Chunk hashes one author's active items list between them: one item of the largest size
# (a decoded chunk list is ~70 bytes a hash); the memory bound per author.
fetch_active_chunks_per_author_max = media_chunks_max
# One author's items waiting for a slot, as records of ~0.3 KB; the rest stay in the
# store until there is room. Enough for a burst of photos to be ordered small first.
fetches_waiting_per_author_max = 256
# Stored manifests read per query when offering an author's log again or looking for
# what manifests list: each row may be an entry_bytes_max envelope (8 MiB at most).
manifest_rows_per_query_max = 32
# Manifests kept decoded for answering HAVEs (every fetching peer asks about every item
# every have_refresh_ms); a handful of items are in flight at once.
served_manifests_cached_max = 64
# An idle fetch worker looks at the planner again this often even unwoken (HAVE refreshes
# come due), and one whose stream failed waits this long before opening another.
fetch_idle_check_ms = 500
fetch_retry_ms = 1000
# A chunk request unanswered for this long is abandoned and asked of someone else.
chunk_request_timeout_ms = 60_000
# A transfer frame: the chunk plus codec byte plus zstd's worst-case framing.
chunk_frame_bytes_max = chunk_bytes_max + 1024

# --- exercises and the self-assessment ---
# An entry's addressees (content key 9, wire): at most every member of a federation.
addressees_max = 64
# An MSEL file: an hour of play is a few dozen injects; a day's exercise a few hundred.
msel_bytes_max = 512 * 1024
msel_injects_max = 500
# What one inject says: its expected player actions, and the files it shares.
msel_expected_max = 20
msel_attachments_per_inject_max = 8
# Attachments travel as media: all of one MSEL's together stay well below a disk's worth.
msel_attachments_bytes_max = 200 * 1024 * 1024
# Loading one through the API: the file and its attachments in base64 (4 bytes per 3), in JSON.
msel_upload_bytes_max = msel_bytes_max + msel_attachments_bytes_max * 4 // 3 + 64 * 1024
# An exercise is played in hours; a week bounds a paused one left running.
msel_duration_s_max = 7 * 24 * 3600
# Runs a node keeps (each with its MSEL and state): old ones are removed by hand.
exercise_runs_max = 64
# The conductor looks at its schedule this often: the release timing's granularity.
conduct_tick_ms = 100
# A release step that failed (disk full, a file gone) is tried again after this.
conduct_retry_ms = 5000
# Play time per wall time: an hour's MSEL in 6 s for a simulation; beyond, injects bunch up.
conduct_speed_max = 600
# Entries read per incident for an after-action report: an hour of 11 OCs' play with
# receipts and notes is a few thousand; a day's incident tens of thousands.
report_entries_max = 50_000
# Addressed entries whose delivery receipt waits for the write gate (catching up at
# start): beyond this the oldest wait for the next start-up scan.
receipts_pending_max = 4096
# A receipt the gate or the disk refused is tried again after this.
receipts_retry_ms = 500
# Peer connection events kept for the after-action report's link failures.
peer_events_max = 20_000
# A self-assessment profile (wire): one answer per capability area, a note each.
profile_areas_max = 64
profile_note_chars_max = 2000
questionnaire_chars_max = 64
# A maturity level: questionnaires use 0-4; the wire leaves room for a finer scale.
profile_level_max = 9
# Profiles considered for the capability matrix history: every save of every member.
profile_history_max = 1000

# --- standards bridges (CAP, EDXL-DE, EMSI, CoT) ---
# An imported document: a CAP alert with a few languages and areas is a few tens of KiB;
# an EDXL-DE envelope carries a few of them. Refused before parsing beyond this.
xml_bytes_max = 1024 * 1024
# Element nesting: the deepest public example (EMSI inside EDXL-DE) is about 12 levels.
xml_depth_max = 32
# Elements in one document: bounds the parse's memory whatever the nesting.
xml_elements_max = 20_000
# An imported incident's origin (wire, open key 9): format, sender and identifier, as the
# standards' own id fields (EDXL strings are 1-1023 characters; CAP's are unbounded).
origin_chars_max = 1023
# CoT streaming: events waiting for a slow TAK client before the oldest is dropped.
cot_queue_max = 1000
# Reconnecting to a TAK server: backoff from the first to the last delay.
cot_backoff_ms_min = 500
cot_backoff_ms_max = 30_000
# Sending one event to a TAK destination: a client that stops reading is dropped after this.
cot_send_ms_max = 10_000
# Inbound CoT: one connection's event before it is cut (one TAK event is a few KiB), and
# connections open at once.
cot_event_bytes_max = 64 * 1024
cot_clients_max = 16
# The CAP Atom feed: its newest incidents.
cap_feed_items_max = 200

# --- per-peer budgets and penalties (protocol/budget.py) ---
# Gossip messages a member may forward to us: 11 members writing 20 entries/s between
# them is 220/s at most from any one forwarder; twice that, with a second's burst.
budget_gossip_per_s = 500
budget_gossip_burst = 1000
# Sync sessions a member may open with us: the periodic and receipts syncs open about one
# every 2 s; a reconnection storm a few at once.
budget_sync_per_s = 2
budget_sync_burst = 20
# Chunk requests (1 MiB each): 200/s is 200 MiB/s, more than any link here carries.
budget_chunks_per_s = 200
budget_chunks_burst = 400
# Markers from one TAK connection: a client reports a few per second; each is a write.
budget_cot_per_s = 5
budget_cot_burst = 50
# Offences (invalid or throttled inputs) before a ban, and how fast they are forgotten.
offences_max = 50
offence_half_life_ms = 60_000
# Ban lengths double with each ban, from a minute to a day; forgiven after a clean day.
ban_ms_min = 60_000
ban_ms_max = 24 * 3600 * 1000
ban_forgive_ms = 24 * 3600 * 1000

# --- restricted incidents (protocol/sealed.py) ---
# XChaCha20-Poly1305 and crypto_box (libsodium): 24-byte nonces (random, so never reused),
# 32-byte keys, 16-byte tags; a content key is named by the first 8 bytes of its hash.
sealed_nonce_bytes = 24
sealed_key_bytes = 32
sealed_tag_bytes = 16
# A sealed media chunk is its nonce and its AEAD box: this much larger than the plain chunk.
sealed_chunk_overhead_bytes = sealed_nonce_bytes + sealed_tag_bytes
sealed_key_id_bytes = 8
# Content keys one incident may go through (one per recipient removal): bounds the keys
# a node holds per incident.
sealed_keys_per_incident_max = 64
