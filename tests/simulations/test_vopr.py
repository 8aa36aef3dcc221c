import pytest

from simulations.vopr import Sim, SimConfig, simulate

SMALL = SimConfig(replicas=12, writers=5, fault_ms=120_000)


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 42, 2026])
def test_a_fixed_set_of_seeds_converges_with_nothing_lost(seed):
    result = simulate(seed, SMALL)
    assert result.ok, f"seed {seed}: {result.problems}"
    assert result.entries > 100 and result.stats["crashes"] > 0 and result.stats["partitions"] > 0
    assert result.stats["dropped"] > 0 and result.stats["duplicated"] > 0
    assert result.stats["writes_refused"] > 0  # the write gate held writes until a first sync


def test_a_cloned_identity_is_found_forked_by_every_replica_and_nobody_else_is():
    sim = Sim(1, SMALL)
    assert sim.run().ok and sim.stats["clones"] == 1
    verdicts = [sim.verdicts(r) for r in sim.live()]
    assert verdicts[0] and all(v == verdicts[0] for v in verdicts)
    assert set(verdicts[0]) <= sim.may_fork


def test_a_writer_restored_from_a_stale_copy_loses_only_what_never_left_it():
    sim = Sim(7, SMALL)  # a seed whose faults include a stale restore
    assert sim.run().ok and sim.stats["stale_restores"] == 1
    assert len(sim.lost) <= 1


def test_the_same_seed_gives_the_same_trace_twice():
    first, second = simulate(7, SMALL), simulate(7, SMALL)
    assert first.trace_hash == second.trace_hash and first.events == second.events
    assert simulate(8, SMALL).trace_hash != first.trace_hash


def test_the_checker_catches_a_lost_entry():
    sim = Sim(3, SMALL)
    result = sim.run()
    assert result.ok
    victim = sim.stores[5]
    lost = next(e for e, (author, _) in sim.acked.items() if author not in sim.may_fork and e in victim.by_id)
    del victim.by_id[lost]
    assert any("lacks 1 acknowledged" in p for p in sim.check())
