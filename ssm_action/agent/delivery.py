"""The steps of a deploy from an artifact, each returning the detail of its step line.

In order: ``prepare`` (repair, note the rollback target), ``download``, ``verify``,
``unpack``, ``install`` (all before the app stops: a failure changes nothing), then,
once the app is stopped, ``switch``; after the checks, ``keep`` (the release is good,
old ones pruned); on a failure after the switch, ``switch_back`` (no reinstall).
``mode: rollback`` replaces ``prepare`` to ``install`` with ``pick``: the release of the
version put back is still installed, so it is only switched to.

Each step can be killed and the next deploy still succeeds, while the old release
keeps serving until the switch: the download resumes (content-addressed by sha256),
a kept zip is hashed again, a release folder is whole or absent (``.partial``
otherwise, removed), a release is switched to only once it is ready (installed),
the switch is atomic or repaired, and the rollback target comes from the records of
good releases, never from a half-done deploy.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any, Dict, List, NamedTuple, Optional

from ssm_action.agent import artifact, history, wheelhouse
from ssm_action.agent.app import App
from ssm_action.agent.errors import StepError
from ssm_action.agent.files import StateDir
from ssm_action.agent.host import Platform
from ssm_action.agent.layout import Layout
from ssm_action.agent.links import Links, local_links
from ssm_action.agent.output import short
from ssm_action.agent.pipeline import Pipeline, Step
from ssm_action.agent.releases import Releases
from ssm_action.agent.shell import Shell
from ssm_action.contract.params import AgentParams
from ssm_action.contract.result import ExitCode
from ssm_action.contract.artifact import READY


class ArtifactRef(NamedTuple):
    url: str  # presigned https URL, file:// URL or local path
    sha256: str  # hex
    size: int  # bytes


class Delivery:
    def __init__(self, params: AgentParams, ref: ArtifactRef, plat: Platform, shell: Shell,
                 links: Optional[Links] = None,
                 progress: Optional[artifact.Progress] = None) -> None:
        self.p = params
        self.ref = ref
        self.plat = plat
        self.shell = shell
        self.releases = Releases(params.app_dir, links or local_links())
        self.progress = progress
        self.zip = self.releases.download_path(ref.sha256)
        self.name = ""  # the new release, once unpacked
        self.manifest: Dict[str, Any] = {}
        self.previous: Optional[str] = None  # what a failure after the switch puts back

    def prepare(self) -> str:
        note = self.releases.prepare()
        self.previous = self.releases.rollback_target()
        return "; ".join(n for n in ["previous release %s" % self.releases.describe(
            self.previous), note] if n)

    def pick(self) -> str:
        """``mode: rollback``: the release of the version put back, installed already (no download)."""
        note = self.prepare()  # what a failure puts back: the newest good release, the one running
        name = self.releases.release_of(self.p.sha)
        if name is None:
            raise StepError("no release of commit %s is kept on this server: deploy that commit again" % short(
                self.p.sha))
        self.name = name
        return "putting back release %s (no download, no reinstall); %s" % (name, note)

    def download(self) -> str:
        if os.path.isfile(self.zip):
            return "already downloaded: %s" % self.zip
        return artifact.download(self.ref.url, self.zip + ".partial", self.ref.size,
                                 progress=self.progress)

    def verify(self) -> str:
        if not os.path.isfile(self.zip):
            return artifact.verify(self.zip + ".partial", self.ref.sha256, self.zip)
        kept = self.zip + ".partial"
        os.replace(self.zip, kept)  # hashed again as if it had just come
        return artifact.verify(kept, self.ref.sha256, self.zip) + " (kept from an earlier run)"

    def unpack(self) -> str:
        name = self.releases.new_name(self.p.sha)
        files = artifact.unpack(self.zip, self.releases.path(name))
        self.name = name
        self.releases.keep_download(self.ref.sha256)
        self.manifest = artifact.read_manifest(self.releases.path(name))
        commit = self.manifest.get("commit")
        if commit != self.p.sha:
            raise StepError("the artifact is of commit %s, not %s: the runner sent the wrong "
                            "artifact; nothing was changed" % (short(commit), short(
                                self.p.sha)))
        carried = self.releases.carry_over(name)
        return "%d file(s) into %s%s" % (len(files), self.releases.path(name), (
            "; %d server-local file(s) carried over" % len(carried)) if carried else "")

    def install(self) -> str:
        release = self.releases.path(self.name)
        detail = wheelhouse.install(self.shell, self.plat, release, self.p, self.manifest)
        self.releases.mark_ready(self.name, {"commit": self.p.sha, "sha256": self.ref.sha256,
                                             "wheels": len(wheelhouse.wheels_in(release))})
        return detail

    def switch(self) -> str:
        """With the app stopped: what it wrote meanwhile carried over, then the link."""
        carried = self.releases.carry_over(self.name)
        detail = self.releases.switch(self.name)
        self.previous = self.previous or self.releases.adopted  # a git clone moved aside
        return detail + ("; %d more server-local file(s) carried over" % len(carried)
                         if carried else "")

    def keep(self) -> str:
        self.releases.mark_good(self.name)
        spare = tuple(n for n in (self.name, self.previous) if n)
        pruned = self.releases.prune(self.p.backup_retention, spare)
        return "%s is good%s" % (self.name, "; %d old release(s) removed" % len(pruned)
                                 if pruned else "")

    def switch_back(self) -> str:
        self.previous = self.previous or self.releases.adopted  # also when the switch failed after the adoption
        if not self.previous:
            raise StepError("no earlier release to switch back to (the first deploy from an "
                            "artifact)")
        return self.releases.switch(self.previous) + "; no reinstall"


class ArtifactSource:
    """The artifact source of a deploy (pipeline.Source): its steps, and a rollback that switches back
    (no reinstall).

    Everything up to ``install`` happens beside the running app; ``pre-stop`` runs the NEW
    release's hook (from its folder, with its venv); from ``stop`` on the deploy is ``dirty``
    (journaled), so a failure, or the next deploy after a kill, puts the previous release back.
    """

    def __init__(self, pipeline: Pipeline) -> None:
        self.d = pipeline
        p = pipeline.p
        self.delivery = Delivery(p, ArtifactRef(p.artifact_url, p.artifact_sha256, p.artifact_size),
                                 pipeline.plat, pipeline.app.shell)

    def steps(self) -> List[Step]:
        d, dl, sha = self.d, self.delivery, self.d.p.sha
        if d.p.action == "rollback":  # the release is still here, installed: switched to, as a rollback does
            fetch = [("prepare", dl.pick)]
        else:
            fetch = [("prepare", dl.prepare), ("download", dl.download), ("checksum", dl.verify),
                     ("unpack", dl.unpack), ("install", dl.install)]
        return [("secrets", d.app.read_secrets), ("record", d.record)] + fetch + [
            ("pre-stop", self.pre_stop), ("stop", self.stop), ("switch", dl.switch),
            ("start", lambda: d.app.start(sha)), ("verify", d.app.verify_started),
            ("post-start", lambda: d.app.hooks("post-start", sha)), ("keep", dl.keep)]

    def succeeded(self) -> None:
        history.record_good(self.d.records, self.d.p, None)

    def pre_stop(self) -> str:
        release = self.delivery.releases.path(self.delivery.name)
        d = self.d
        new = App(d.plat, d.app.shell, d.records, Layout.of(replace(d.p, app_dir=release)), d.p, d.state)
        return new.hooks("pre-stop", d.p.sha)

    def stop(self) -> str:
        self.d.state.dirty = True  # from here on a failure (or a kill) puts the previous release back
        self.d.journal.save()
        return self.d.app.stop()

    def fail(self, step: str, error: str) -> int:
        d, dl = self.d, self.delivery
        error = "%s: %s" % (step, error)
        if not d.state.dirty:
            return d.finish("failed", ExitCode.FAILED, error + " (nothing was changed: the app kept running)")
        if not d.p.rollback_on_failure:
            return d.finish("failed", ExitCode.FAILED, error + " (rollback is off)")
        previous = dl.previous or dl.releases.adopted
        if previous is None and d.state.previous_sha is None:
            return d.finish("failed", ExitCode.FAILED, error + " (no previous version to restore)")
        d.rep.say("rolling back to release %s" % dl.releases.describe(previous))
        try:
            self.roll_back(previous)
        except StepError as rb_exc:
            return d.finish("failed", ExitCode.FAILED, "%s; rollback failed: %s" % (error, rb_exc))
        return d.finish("rolled_back", ExitCode.ROLLED_BACK, error)

    def roll_back(self, previous: Optional[str]) -> None:
        d, dl = self.d, self.delivery
        old_pid = d.state.old_pid
        keep_old = d.app.untouched(old_pid)
        if not keep_old:
            d.step("rollback-stop", d.app.stop)
        if previous and dl.releases.current() != previous:
            d.step("rollback-switch", dl.switch_back)
        if keep_old and old_pid is not None:
            d.step("rollback-verify", lambda: d.app.verify_kept(old_pid))
            return
        sha = StateDir(dl.releases.path(previous)).read(READY).get("commit") if previous else None
        sha = sha or d.state.previous_sha or ""
        d.restart(sha)
