/**
 * The lab's node image as kind starts it. kind's docker provider runs a node container and then waits at
 * most 30 s for the node's log to match "Reached target .*Multi-User System.*|detected cgroup v1" before it
 * runs anything in it (kind v0.31.0 pkg/cluster/internal/providers/docker/provision.go). On this cgroup v1
 * host the lab's entrypoint relied on systemd reaching multi-user, and under a load of about 380 a matrix
 * run's kind create failed on exactly that wait (2026-12-06). The entrypoint now says "detected cgroup v1"
 * itself once its own changes are done. Here a node container is started through the lab's docker shim
 * (as kind starts it: privileged turned into the host's capabilities, its own cgroup namespace, tmpfs /run
 * and /tmp, no network) and kind's own pattern must match a line of the entrypoint's, before any line of
 * systemd's. Runs where the lab is complete, required with REQUIRE_LAB=1, skipped elsewhere.
 */
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { LAB_SOURCE_DIR, labNodeImage, readLabLock } from '../../harness/lab/lock.js';
import { labStatus } from '../../harness/lab/status.js';
import { LAB_BUILD_HINT } from '../support/lab.js';

const status = await labStatus();
const IMAGE = labNodeImage(readLabLock());
const SHIM = join(LAB_SOURCE_DIR, 'shim', 'docker');
/** kind v0.31.0's pattern (pkg/cluster/internal/providers/common/cgroups.go), as a fact to test against */
const KIND_READY = /Reached target .*Multi-User System.*|detected cgroup v1/;
const NAME = `cc-node-image-test-${process.pid}`;

const suite = status.complete ? describe : process.env.REQUIRE_LAB === '1' ? describe : describe.skip;
const title = status.complete
  ? `the lab's node image as kind starts it (${IMAGE})`
  : `the lab's node image [skipped: the lab is not complete; ${LAB_BUILD_HINT}]`;

afterAll(async () => {
  await execa('docker', ['rm', '-f', '-v', NAME], { reject: false, timeout: 60_000 });
});

suite(title, () => {
  it("kind's node-ready pattern matches the entrypoint's own line on cgroup v1, before systemd's", async () => {
    const v2 = (await execa('stat', ['-fc', '%T', '/sys/fs/cgroup'], { reject: false })).stdout.trim();
    const started = await execa(
      SHIM,
      [
        'run',
        '-d',
        '--name',
        NAME,
        '--privileged',
        '--cgroupns',
        'private',
        '--security-opt',
        'seccomp=unconfined',
        '--security-opt',
        'apparmor=unconfined',
        '--tmpfs',
        '/tmp',
        '--tmpfs',
        '/run',
        '--volume',
        '/var',
        '--network',
        'none',
        IMAGE,
      ],
      { reject: false, timeout: 60_000 },
    );
    expect(started.exitCode, started.stderr).toBe(0);
    // the entrypoint's line comes before systemd starts: 20 s is ample even under load
    let log = '';
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      log = (await execa('docker', ['logs', NAME], { reject: false, all: true, timeout: 30_000 })).all ?? '';
      if (KIND_READY.test(log)) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const lines = log.split('\n');
    const first = lines.findIndex((l) => KIND_READY.test(l));
    expect(
      first,
      `no line of the node's log matched ${KIND_READY} within 20 s:\n${log}`,
    ).toBeGreaterThanOrEqual(0);
    if (v2 === 'cgroup2fs') return; // a cgroup v2 host: systemd's own multi-user line is the one kind waits for
    expect(lines[first]).toMatch(/^lab-entrypoint: detected cgroup v1/);
    expect(lines.slice(0, first).some((l) => /Multi-User System/.test(l))).toBe(false);
  }, 90_000);
});
