"""Batch jobs: serial and on a real dask.distributed LocalCluster (a worker killed mid-job)."""

from __future__ import annotations

import csv
import io
import json
import os
import signal

import pytest
from click.testing import CliRunner

from airdiff.cli import cli
from airdiff.errors import InputError
from airdiff.pipeline import load_job, run_batch


@pytest.fixture(scope="module")
def job_dir(tmp_path_factory):
    from airdiff.synth import make_pair, write_pair

    d = tmp_path_factory.mktemp("job")
    for seed in range(3):
        pair = make_pair(seed=10 + seed, scenario="random", shape=(500, 500),
                         misregistration="small", nuisances={"noise", "radiometry"})
        write_pair(pair, d / f"p{seed}")
    return d


def job_toml(d, out="results", extra_bad=True):
    lines = [f'[defaults]\noutdir = "{out}"\ncredit = "Synthetic"\n']
    for i in range(3):
        lines.append(f'[[pair]]\nname = "p{i}"\nbefore = "p{i}/before.tif"\nafter = "p{i}/after.tif"\n')
    if extra_bad:
        lines.append('[[pair]]\nname = "broken"\nbefore = "p0/before.tif"\nafter = "missing.tif"\n')
    p = d / f"{out}.toml"
    p.write_text("\n".join(lines))
    return p


def test_job_validation(tmp_path):
    with pytest.raises(InputError, match="no pairs"):
        load_job({"defaults": {}}, base_dir=tmp_path)
    with pytest.raises(InputError, match="unknown key"):
        load_job({"pair": [{"before": "a", "after": "b", "colour": 1}]}, base_dir=tmp_path)
    with pytest.raises(InputError, match="used twice"):
        load_job({"pair": [{"before": "a", "after": "b"}, {"before": "a", "after": "c"}]})


def test_serial_run_records_failures_and_resumes(job_dir):
    path = job_toml(job_dir, out="serial")
    res = CliRunner().invoke(cli, ["-q", "run", str(path)])
    assert res.exit_code == 4, res.output  # one pair failed
    rows = {ln.split()[0]: ln.split()[1] for ln in res.stdout.splitlines() if ln.strip()}
    assert rows == {"p0": "ok", "p1": "ok", "p2": "ok", "broken": "failed"}
    assert "does not exist" in res.output
    summary = (job_dir / "serial" / "summary.csv").read_text()
    assert summary.count("\n") == 5
    table = {r["name"]: r for r in csv.DictReader(io.StringIO(summary))}
    assert table["broken"]["status"] == "failed" and table["broken"]["possible_decoys"] == ""
    for i in range(3):
        rep = json.loads((job_dir / "serial" / f"p{i}" / "report.json").read_text())
        assert rep["registration"]["status"] == "ok"
        assert table[f"p{i}"]["summary"] == rep["summary"]
        assert int(table[f"p{i}"]["possible_decoys"]) == rep["possible_decoys"]
    # re-running skips what is done and only retries the failure
    jobs = load_job({"defaults": {"outdir": "serial"}, "pair": [
        {"name": f"p{i}", "before": f"p{i}/before.tif", "after": f"p{i}/after.tif"} for i in range(3)]},
        base_dir=job_dir)
    assert [r.status for r in run_batch(jobs)] == ["skipped"] * 3


def test_local_cluster_survives_a_killed_worker(job_dir):
    distributed = pytest.importorskip("distributed")
    path = job_toml(job_dir, out="cluster", extra_bad=False)
    from airdiff.io import read_job

    jobs = load_job(read_job(path), base_dir=job_dir)
    killed = []
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:

        def kill_busy_worker_once(result):
            if killed:
                return
            busy = [w for w, tasks in client.processing().items() if tasks]
            if busy:
                pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
                os.kill(pid, signal.SIGKILL)  # the worker process dies mid-pair
                killed.append(busy[0])

        results = run_batch(jobs, client=client, progress=kill_busy_worker_once)
    assert killed, "no worker was busy when the first pair finished"
    assert [r.status for r in results] == ["ok"] * 3
    for j in jobs:
        out = set(os.listdir(j.outdir))
        assert {"report.json", "changes.geojson", "aligned.tif", "figure.png"} <= out
        assert not [n for n in out if n.startswith(".")]
