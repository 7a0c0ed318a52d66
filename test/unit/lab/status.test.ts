/**
 * lab:status with docker not answering: the image parts say so (start dockerd) instead of calling a built
 * lab out of date — what a fresh session on this machine met before its dockerd was started.
 */
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { labPaths } from '../../../harness/lab/lock.js';
import { labStatus } from '../../../harness/lab/status.js';

const path = process.env.PATH;
afterEach(() => {
  process.env.PATH = path;
});

const stamps = labPaths().stamps;
const anyImageStamp = existsSync(stamps) && readdirSync(stamps).some((f) => f.startsWith('image'));

it.skipIf(!anyImageStamp)(
  'a part whose images live in docker says docker is not answering when there is no docker',
  async () => {
    process.env.PATH = mkdtempSync(join(tmpdir(), 'no-docker-')); // no docker on PATH: it cannot answer
    const s = await labStatus();
    const images = s.parts.filter(
      (p) => p.name.startsWith('image') && !p.optional && existsSync(join(stamps, `${p.name}.json`)),
    );
    expect(images.length).toBeGreaterThan(0);
    for (const p of images) {
      expect(p.built, p.name).toBe(false);
      expect(p.detail, p.name).toBe('its images cannot be checked: docker is not answering (start dockerd)');
    }
    expect(s.complete).toBe(false);
  },
);
