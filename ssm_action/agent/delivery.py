"""The steps of a deploy from an artifact, each returning the detail of its step line.

In order: ``prepare`` (repair, note the rollback target), ``download``, ``verify``,
``unpack``, ``install`` (all before the app stops: a failure changes nothing), then,
once the app is stopped, ``switch``; after the checks, ``keep`` (the release is good,
old ones pruned); on a failure after the switch, ``switch_back`` (no reinstall).

Each step can be killed and the next deploy still succeeds, while the old release
keeps serving until the switch: the download resumes (content-addressed by sha256),
a kept zip is hashed again, a release folder is whole or absent (``.partial``
otherwise, removed), a release is switched to only once it is ready (installed),
the switch is atomic or repaired, and the rollback target comes from the records of
good releases, never from a half-done deploy.
"""

from __future__ import annotations

import os
from typing import Any, Dict, NamedTuple, Optional

from ssm_action.agent import artifact, wheelhouse
from ssm_action.agent.errors import StepError
from ssm_action.agent.host import Platform
from ssm_action.agent.links import Links, local_links
from ssm_action.agent.output import short
from ssm_action.agent.releases import Releases
from ssm_action.agent.shell import Shell


class ArtifactRef(NamedTuple):
    url: str  # presigned https URL, file:// URL or local path
    sha256: str  # hex
    size: int  # bytes


class Delivery:
    def __init__(self, params: Dict[str, Any], ref: ArtifactRef, plat: Platform, shell: Shell,
                 links: Optional[Links] = None,
                 progress: Optional[artifact.Progress] = None) -> None:
        self.p = params
        self.ref = ref
        self.plat = plat
        self.shell = shell
        self.releases = Releases(params["app_dir"], links or local_links())
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
        name = self.releases.new_name(self.p["sha"])
        files = artifact.unpack(self.zip, self.releases.path(name))
        self.name = name
        self.releases.keep_download(self.ref.sha256)
        self.manifest = artifact.read_manifest(self.releases.path(name))
        commit = self.manifest.get("commit")
        if commit != self.p["sha"]:
            raise StepError("the artifact is of commit %s, not %s: the runner sent the wrong "
                            "artifact; nothing was changed" % (short(commit), short(
                                self.p["sha"])))
        carried = self.releases.carry_over(name)
        return "%d file(s) into %s%s" % (len(files), self.releases.path(name), (
            "; %d server-local file(s) carried over" % len(carried)) if carried else "")

    def install(self) -> str:
        release = self.releases.path(self.name)
        detail = wheelhouse.install(self.shell, self.plat, release, self.p, self.manifest)
        self.releases.mark_ready(self.name, {"commit": self.p["sha"], "sha256": self.ref.sha256,
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
        pruned = self.releases.prune(self.p["backup_retention"], spare)
        return "%s is good%s" % (self.name, "; %d old release(s) removed" % len(pruned)
                                 if pruned else "")

    def switch_back(self) -> str:
        if not self.previous:
            raise StepError("no earlier release to switch back to (the first deploy from an "
                            "artifact)")
        return self.releases.switch(self.previous) + "; no reinstall"
