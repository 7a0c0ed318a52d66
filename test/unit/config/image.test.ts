import { describe, expect, it } from 'vitest';
import { imageRole, isCalicoImage, parseImage, rewriteImage } from '../../../harness/config/image.js';

describe('parseImage', () => {
  it('splits registry, repository, tag and digest', () => {
    expect(parseImage('quay.io/calico/node:v3.32.1')).toEqual({
      registry: 'quay.io',
      repository: 'calico/node',
      tag: 'v3.32.1',
    });
    expect(parseImage('calico/cni:v3.24.0')).toEqual({ repository: 'calico/cni', tag: 'v3.24.0' });
    expect(parseImage('mirror.local:5000/calico/node:v3.31.7@sha256:abc')).toEqual({
      registry: 'mirror.local:5000',
      repository: 'calico/node',
      tag: 'v3.31.7',
      digest: 'sha256:abc',
    });
    expect(parseImage('localhost/calico/typha')).toEqual({
      registry: 'localhost',
      repository: 'calico/typha',
    });
    expect(parseImage('kindest/node:v1.35.0@sha256:452d')).toEqual({
      repository: 'kindest/node',
      tag: 'v1.35.0',
      digest: 'sha256:452d',
    });
  });

  it('reads a port-less first segment without a dot as a Docker Hub namespace, not a registry', () => {
    expect(parseImage('mirror/calico/node:v3')).toEqual({ repository: 'mirror/calico/node', tag: 'v3' });
    expect(parseImage('busybox')).toEqual({ repository: 'busybox' });
  });
});

describe('rewriteImage', () => {
  it('replaces only the registry part, keeping tag and digest', () => {
    expect(rewriteImage('docker.io/calico/node:v3.28.5', 'mirror.local:5000')).toBe(
      'mirror.local:5000/calico/node:v3.28.5',
    );
    expect(rewriteImage('calico/node:v3', 'quay.io/')).toBe('quay.io/calico/node:v3');
    expect(rewriteImage('quay.io/calico/cni:v3.31.0@sha256:ab', 'mirror.local:5000/calico')).toBe(
      'mirror.local:5000/calico/calico/cni:v3.31.0@sha256:ab',
    );
  });
});

describe('imageRole', () => {
  it('tells Calico, operator and other images apart', () => {
    expect(imageRole('docker.io/calico/kube-controllers:v3.28.5')).toBe('calico');
    expect(imageRole('quay.io/calico/calico:master')).toBe('calico');
    expect(imageRole('mirror.local:5000/calico/calico/node:v3.31.0')).toBe('calico');
    expect(imageRole('quay.io/tigera/operator:v1.42.3')).toBe('operator');
    expect(imageRole('registry.k8s.io/coredns/coredns:v1.12.0')).toBe('other');
    expect(isCalicoImage('quay.io/tigera/operator:v1.34.13')).toBe(true);
    expect(isCalicoImage('registry.k8s.io/pause:3.9')).toBe(false);
  });
});
