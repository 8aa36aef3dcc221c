"""The self-assessment over a real mesh: saved on A, shown in B's matrix, history kept."""

from .api_client import client
from .federation import federation, running, wait_until


def answers(staffing: int) -> dict:
    return {
        "answers": [
            {"area": "staffing-languages", "current": staffing, "target": 4, "note": "Two shifts, EN/FR/NL"},
            {"area": "cbrne", "current": 1, "target": 3, "note": ""},
        ]
    }


async def test_a_profile_saved_on_a_shows_in_bs_matrix_and_a_later_save_replaces_it_keeping_the_history(tmp_path):
    dirs = federation(tmp_path, 2)
    async with running(dirs) as (a, b), client(a) as api_a, client(b) as api_b:
        await wait_until(lambda: a.writable and b.writable and a.connected)
        areas = {area["id"] for area in (await api_a.get("/v1/assessment")).json()["questionnaire"]["areas"]}
        assert {"staffing-languages", "cbrne"} <= areas
        first = await api_a.put("/v1/assessment/profile", json=answers(2))
        assert first.status_code == 201, first.text
        key = a.identity.public_key.hex()

        async def b_row() -> dict | None:
            rows = (await api_b.get("/v1/assessment/matrix")).json()["rows"]
            return next((r for r in rows if r["key"] == key), None)

        await wait_until(lambda: a.identity.public_key in b.replica.current_profiles())
        row = await b_row()
        cell = next(c for c in row["cells"] if c["area"] == "staffing-languages")
        assert (cell["current"], cell["target"], cell["gap"]) == (2, 4, 2)

        second = await api_a.put("/v1/assessment/profile", json=answers(4))
        assert second.status_code == 201
        await wait_until(lambda: b.replica.current_profiles()[a.identity.public_key].id.hex() == second.json()["entry"])
        row = await b_row()
        assert next(c for c in row["cells"] if c["area"] == "staffing-languages")["gap"] == 0
        history = (await api_b.get(f"/v1/assessment/profiles/{key}/history")).json()["history"]
        assert [h["entry"] for h in history] == [first.json()["entry"], second.json()["entry"]]
        csv = await api_b.get("/v1/assessment/matrix.csv")
        assert csv.status_code == 200 and "staffing-languages" in csv.text
        page = await api_b.get("/v1/assessment/matrix.html")
        assert page.status_code == 200 and "attachment" in page.headers["content-disposition"]


async def test_a_profile_naming_an_unknown_area_or_level_is_refused_and_nothing_is_written(tmp_path):
    (datadir,) = federation(tmp_path, 1)
    async with running([datadir]) as (node,), client(node) as api:
        await wait_until(lambda: node.writable)
        before = node.replica.log.heads()
        bad_area = await api.put("/v1/assessment/profile", json={"answers": [{"area": "x", "current": 1, "target": 2}]})
        assert bad_area.status_code == 422 and "'x'" in bad_area.json()["error"]["message"]
        bad_level = answers(2)
        bad_level["answers"][0]["current"] = 7  # the questionnaire's scale is 0-4
        assert (await api.put("/v1/assessment/profile", json=bad_level)).status_code == 422
        assert node.replica.log.heads() == before
