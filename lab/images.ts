/**
 * The lab's images: two Debian roots made by debootstrap from the machine's apt mirror and `docker import`ed
 * (one for kind nodes, one for networking containers), and every image the lab's clusters run, built
 * `FROM` those roots or `FROM scratch` with the Go binaries of lab/build.ts. Images are tagged exactly as
 * kubeadm, the upstream Calico manifests and the operator name them, so nothing is ever pulled.
 */
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import {
  agnhostImage,
  controlPlaneImages,
  LAB_SOURCE_DIR,
  type LabCalicoBuild,
  type LabLock,
  labCalicoBuilds,
  labCalicoImages,
  labNodeImage,
} from '../harness/lab/lock.js';
import { calicoBinDir, OPERATOR_OPTIONAL, type Step, type StepContext } from './build.js';

const NODE_PACKAGES = [
  'systemd',
  'systemd-sysv',
  'dbus',
  'containerd',
  'runc',
  'iptables',
  'nftables',
  'conntrack',
  'iproute2',
  'ipset',
  'ethtool',
  'socat',
  'kmod',
  'mount',
  'util-linux',
  'procps',
  'ca-certificates',
  'iputils-ping',
  'netbase',
  'libseccomp2',
];
/** calico/node, kube-proxy and agnhost: the networking tools they call, BIRD 1.6 and busybox (agnhost is Alpine upstream). */
const NET_PACKAGES = [
  'iptables',
  'nftables',
  'ipset',
  'iproute2',
  'conntrack',
  'bird',
  'kmod',
  'procps',
  'busybox',
  'curl',
  'netcat-openbsd',
  'netbase',
  'ca-certificates',
];

function debianMirror(): string {
  if (process.env.DEBIAN_MIRROR) return process.env.DEBIAN_MIRROR;
  const dir = '/etc/apt/sources.list.d';
  if (existsSync(dir)) {
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.sources'))) {
      const m = readFileSync(join(dir, f), 'utf8').match(/^URIs:\s*(\S+)/m);
      const uri = m?.[1];
      if (uri && !uri.includes('security')) return uri;
    }
  }
  if (existsSync('/etc/apt/sources.list')) {
    const uri = readFileSync('/etc/apt/sources.list', 'utf8').match(/^deb\s+(\S+)/m)?.[1];
    if (uri) return uri;
  }
  throw new Error('no Debian mirror found in /etc/apt (set DEBIAN_MIRROR)');
}

/** This file: the Dockerfiles and contexts are written here, so any edit to it rebuilds the images. */
const RECIPES = sha(readFileSync(fileURLToPath(import.meta.url)));

function sha(...parts: Array<string | Buffer>): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex').slice(0, 12);
}

function fileHash(path: string): string {
  return sha(readFileSync(path));
}

function baseImage(kind: 'node' | 'net'): string {
  const pkgs = kind === 'node' ? NODE_PACKAGES : NET_PACKAGES;
  return `calico-conformance-lab/base-${kind}:${sha(pkgs.join(','))}`;
}

async function imageExists(ref: string): Promise<boolean> {
  const r = await execa('docker', ['image', 'inspect', '--format', '{{.Id}}', ref], { reject: false });
  return r.exitCode === 0;
}

/** `docker build` (classic builder, local images only) of a context directory prepared by `fill`. */
async function buildImage(
  ctx: StepContext,
  tags: string[],
  dockerfile: string,
  fill: (dir: string) => void,
): Promise<void> {
  const dir = join(ctx.paths.images, 'ctx', sha(tags.join(',')));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  fill(dir);
  writeFileSync(join(dir, 'Dockerfile'), dockerfile);
  ctx.log(`  docker build ${tags.join(' ')}`);
  await execa('docker', ['build', '--pull=false', '-q', ...tags.flatMap((t) => ['-t', t]), dir], {
    env: { DOCKER_BUILDKIT: '0' },
  });
  rmSync(dir, { recursive: true, force: true });
}

function copyExec(from: string, to: string): void {
  mkdirSync(join(to, '..'), { recursive: true });
  copyFileSync(from, to);
  chmodSync(to, 0o755);
}

function rootfsStep(kind: 'node' | 'net'): Step {
  const pkgs = kind === 'node' ? NODE_PACKAGES : NET_PACKAGES;
  return {
    name: `rootfs-${kind}`,
    key: () => ({ pkgs, image: baseImage(kind) }),
    outputs: () => [],
    images: () => [baseImage(kind)],
    build: async (ctx) => {
      const root = join(ctx.paths.rootfs, kind);
      rmSync(root, { recursive: true, force: true });
      mkdirSync(root, { recursive: true });
      const mirror = debianMirror();
      ctx.log(`  debootstrap ${kind} (${pkgs.length} packages) from ${mirror}`);
      await execa(
        'nice',
        [
          '-n',
          '5',
          'debootstrap',
          '--variant=minbase',
          `--include=${pkgs.join(',')}`,
          'bookworm',
          root,
          mirror,
        ],
        {
          all: true,
        },
      ).catch((err: { all?: string; message: string }) => {
        throw new Error(`debootstrap failed: ${(err.all ?? err.message).split('\n').slice(-15).join('\n')}`);
      });
      for (const d of ['var/cache/apt/archives', 'var/lib/apt/lists']) {
        for (const f of readdirSync(join(root, d)))
          if (f !== 'partial' && f !== 'lock') rmSync(join(root, d, f), { recursive: true, force: true });
      }
      // a shell pipe: the root is hundreds of MB, never buffered in this process
      await execa('bash', [
        '-c',
        'set -o pipefail; tar -C "$1" -c . | docker import - "$2"',
        'bash',
        root,
        baseImage(kind),
      ]);
      rmSync(root, { recursive: true, force: true });
    },
  };
}

const SCRATCH_PATH = 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n';

function binHashes(files: string[]): string[] {
  return files.map((f) => (existsSync(f) ? `${f}:${statSync(f).size}:${fileHash(f)}` : `${f}:missing`));
}

function controlPlaneStep(): Step {
  return {
    name: 'images-control-plane',
    key: (ctx) => ({
      recipes: RECIPES,
      imgs: controlPlaneImages(ctx.lock),
      bins: binHashes([
        ...['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy'].map((n) =>
          join(ctx.paths.bin, 'k8s', n),
        ),
        join(ctx.paths.bin, 'etcd'),
        join(ctx.paths.bin, 'coredns'),
        join(ctx.paths.bin, 'pause'),
      ]),
      net: baseImage('net'),
    }),
    outputs: () => [],
    images: (ctx) => controlPlaneImages(ctx.lock),
    build: async (ctx) => {
      const k = ctx.lock.kubernetes.version;
      for (const n of ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler']) {
        await buildImage(
          ctx,
          [`registry.k8s.io/${n}:${k}`],
          `FROM scratch\n${SCRATCH_PATH}COPY ${n} /usr/local/bin/${n}\nENTRYPOINT ["/usr/local/bin/${n}"]\n`,
          (d) => copyExec(join(ctx.paths.bin, 'k8s', n), join(d, n)),
        );
      }
      // kube-proxy programs iptables: it runs on the networking root
      await buildImage(
        ctx,
        [`registry.k8s.io/kube-proxy:${k}`],
        `FROM ${baseImage('net')}\nCOPY kube-proxy /usr/local/bin/kube-proxy\nENTRYPOINT ["/usr/local/bin/kube-proxy"]\n`,
        (d) => copyExec(join(ctx.paths.bin, 'k8s', 'kube-proxy'), join(d, 'kube-proxy')),
      );
      await buildImage(
        ctx,
        [`registry.k8s.io/etcd:${ctx.lock.etcd.imageTag}`],
        `FROM scratch\n${SCRATCH_PATH}COPY etcd /usr/local/bin/etcd\nCOPY tmp /tmp\nENTRYPOINT ["/usr/local/bin/etcd"]\n`,
        (d) => {
          copyExec(join(ctx.paths.bin, 'etcd'), join(d, 'etcd'));
          mkdirSync(join(d, 'tmp'));
        },
      );
      await buildImage(
        ctx,
        [`registry.k8s.io/coredns/coredns:${ctx.lock.coredns.version}`],
        `FROM scratch\nCOPY coredns /coredns\nENTRYPOINT ["/coredns"]\n`,
        (d) => copyExec(join(ctx.paths.bin, 'coredns'), join(d, 'coredns')),
      );
      await buildImage(
        ctx,
        [`registry.k8s.io/pause:${ctx.lock.pause.version}`],
        `FROM scratch\nCOPY pause /pause\nENTRYPOINT ["/pause"]\n`,
        (d) => copyExec(join(ctx.paths.bin, 'pause'), join(d, 'pause')),
      );
    },
  };
}

/** lab/images/calico-node/: the entrypoint (our supervisor), its `sv`, and the filter in front of BIRD */
const CALICO_NODE_FILES = ['start', 'sv', 'bird'];

function operatorImage(ctx: StepContext): string {
  return `${ctx.lock.operator.registry}/tigera/operator:${ctx.lock.operator.version}`;
}

/** Calico's images of one lab build (the default one, or the optional one an upgrade starts from). */
function calicoStep(b: LabCalicoBuild): Step {
  const cbin = (ctx: StepContext, n: string) => join(calicoBinDir(ctx.paths, b), n);
  return {
    name: `images-calico${b.suffix}`,
    ...(b.optional ? { optional: b.optional, calicoVersion: b.calico.version } : {}),
    key: (ctx) => ({
      recipes: RECIPES,
      imgs: labCalicoImages(b.calico),
      bins: binHashes([
        ...[
          'calico-node',
          'calico',
          'install',
          'kube-controllers',
          'check-status',
          'calico-typha',
          'apiserver',
        ].map((n) => cbin(ctx, n)),
        ...ctx.lock.cniPlugins.calico.plugins.map((p) => join(ctx.paths.bin, 'cni-calico', p)),
      ]),
      files: CALICO_NODE_FILES.map((f) =>
        readFileSync(join(LAB_SOURCE_DIR, 'images/calico-node', f), 'utf8'),
      ),
      net: baseImage('net'),
    }),
    outputs: () => [],
    images: () => Object.values(labCalicoImages(b.calico)),
    build: async (ctx) => {
      const imgs = labCalicoImages(b.calico);
      const confd = join(
        ctx.paths.gomod,
        `${b.calico.module}@${b.calico.pseudoVersion}`,
        'confd/etc/calico/confd',
      );
      await buildImage(
        ctx,
        [imgs.node],
        [
          `FROM ${baseImage('net')}`,
          'COPY calico-node /usr/bin/calico-node',
          'COPY start /usr/local/bin/lab-calico-node-start',
          // runit's sv answered from the lab's supervisor: calico-node -bird-live asks `sv status`, confd's
          // reload_cmd is `sv hup bird` (lab/images/calico-node/sv)
          'COPY sv /usr/local/bin/sv',
          // BIRD through the filter that removes confd's empty krt_tunnel statements, first on PATH
          // (lab/images/calico-node/bird); the real daemons stay in /usr/sbin
          'COPY bird /usr/local/sbin/bird',
          'RUN ln -s bird /usr/local/sbin/bird6',
          'COPY confd /etc/calico/confd',
          'COPY felix.cfg /etc/calico/felix.cfg',
          // Debian's BIRD 1.6 ships birdc (the readline client) but no birdcl, which Calico's image has and
          // calico-node -bird-live runs as /bin/birdcl (node/pkg/health/health.go); /bin is /usr/bin here.
          // Both clients speak the same control-socket protocol
          'RUN ln -s ../sbin/birdc /usr/bin/birdcl',
          'ENV SVDIR=/etc/service/enabled',
          'ENV CALICO_DISABLE_FILE_LOGGING=true',
          // Measured: calico-node built without cgo (no libbpf: its cgo wrapper needs libbpf's private
          // headers, which neither a Go module nor Debian's libbpf-dev ships) panics at Felix start in
          // iptables mode ("LIBBPF syscall stub" in the BPF connect-time-LB cleanup). Felix's own switch
          // skips that cleanup, which on a node that never ran the eBPF dataplane has nothing to clean.
          'ENV FELIX_DebugSkipCTLBCleanup=true',
          'CMD ["/usr/local/bin/lab-calico-node-start"]',
          '',
        ].join('\n'),
        (d) => {
          copyExec(cbin(ctx, 'calico-node'), join(d, 'calico-node'));
          for (const f of CALICO_NODE_FILES)
            copyExec(join(LAB_SOURCE_DIR, 'images/calico-node', f), join(d, f));
          // confd's templates and their config are data that calico-node -confd reads at run time
          mkdirSync(join(d, 'confd', 'config'), { recursive: true });
          cpSync(join(confd, 'conf.d'), join(d, 'confd', 'conf.d'), { recursive: true });
          cpSync(join(confd, 'templates'), join(d, 'confd', 'templates'), { recursive: true });
          writeFileSync(join(d, 'confd', 'config', '.keep'), '');
          // no cloud metadata, logs to stdout only (what the upstream image configures)
          writeFileSync(
            join(d, 'felix.cfg'),
            '[global]\nMetadataAddr = None\nLogFilePath = None\nLogSeverityFile = None\nLogSeveritySys = None\n',
          );
        },
      );
      await buildImage(
        ctx,
        [imgs.cni],
        `FROM scratch\nENV PATH=/opt/cni/bin\nCOPY bin /opt/cni/bin\nCOPY tmp /tmp\nENTRYPOINT ["/opt/cni/bin/install"]\n`,
        (d) => {
          copyExec(cbin(ctx, 'calico'), join(d, 'bin', 'calico'));
          copyExec(cbin(ctx, 'calico'), join(d, 'bin', 'calico-ipam'));
          copyExec(cbin(ctx, 'install'), join(d, 'bin', 'install'));
          for (const p of ctx.lock.cniPlugins.calico.plugins)
            copyExec(join(ctx.paths.bin, 'cni-calico', p), join(d, 'bin', p));
          mkdirSync(join(d, 'tmp'));
        },
      );
      await buildImage(
        ctx,
        [imgs.kubeControllers],
        `FROM scratch\n${SCRATCH_PATH}COPY kube-controllers /usr/bin/kube-controllers\nCOPY check-status /usr/bin/check-status\nCOPY --chown=999:999 status /status\nCOPY --chown=999:999 tmp /tmp\n# upstream's image runs as this uid: the manifest's runAsNonRoot refuses root\nUSER 999\nENTRYPOINT ["/usr/bin/kube-controllers"]\n`,
        (d) => {
          copyExec(cbin(ctx, 'kube-controllers'), join(d, 'kube-controllers'));
          copyExec(cbin(ctx, 'check-status'), join(d, 'check-status'));
          mkdirSync(join(d, 'status'));
          chmodSync(join(d, 'status'), 0o777);
          mkdirSync(join(d, 'tmp'));
          chmodSync(join(d, 'tmp'), 0o1777);
        },
      );
      await buildImage(
        ctx,
        [imgs.typha],
        `FROM scratch\n${SCRATCH_PATH}COPY calico-typha /usr/bin/calico-typha\nENTRYPOINT ["/usr/bin/calico-typha"]\n`,
        (d) => copyExec(cbin(ctx, 'calico-typha'), join(d, 'calico-typha')),
      );
      await buildImage(
        ctx,
        [imgs.apiserver],
        `FROM scratch\n${SCRATCH_PATH}COPY apiserver /code/apiserver\nCOPY tmp /tmp\nENTRYPOINT ["/code/apiserver"]\n`,
        (d) => {
          copyExec(cbin(ctx, 'apiserver'), join(d, 'apiserver'));
          mkdirSync(join(d, 'tmp'));
          chmodSync(join(d, 'tmp'), 0o1777);
        },
      );
    },
  };
}

function operatorStep(): Step {
  return {
    name: 'images-operator',
    optional: OPERATOR_OPTIONAL,
    key: (ctx) => ({
      recipes: RECIPES,
      img: operatorImage(ctx),
      bins: binHashes([join(ctx.paths.bin, 'operator')]),
    }),
    outputs: () => [],
    images: (ctx) => [operatorImage(ctx)],
    build: async (ctx) => {
      await buildImage(
        ctx,
        [operatorImage(ctx)],
        `FROM scratch\n${SCRATCH_PATH}COPY operator /usr/local/bin/operator\nCOPY tmp /tmp\nENTRYPOINT ["/usr/local/bin/operator"]\n`,
        (d) => {
          copyExec(join(ctx.paths.bin, 'operator'), join(d, 'operator'));
          mkdirSync(join(d, 'tmp'));
          chmodSync(join(d, 'tmp'), 0o1777);
        },
      );
    },
  };
}

function agnhostStep(): Step {
  return {
    name: 'images-agnhost',
    key: (ctx) => ({
      recipes: RECIPES,
      img: agnhostImage(ctx.lock),
      bins: binHashes([join(ctx.paths.bin, 'agnhost')]),
      net: baseImage('net'),
    }),
    outputs: () => [],
    images: (ctx) => [agnhostImage(ctx.lock)],
    build: async (ctx) => {
      // Upstream agnhost is Alpine: busybox sh, timeout and ping, plus curl and openbsd nc. The busybox
      // applets go first on PATH so the probe script meets the same tools and exit codes.
      await buildImage(
        ctx,
        [agnhostImage(ctx.lock)],
        [
          `FROM ${baseImage('net')}`,
          'COPY agnhost /agnhost',
          'RUN for a in sh timeout ping ping6 nslookup wget; do ln -sf /bin/busybox /usr/local/bin/$a; done',
          'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin',
          'ENTRYPOINT ["/agnhost"]',
          '',
        ].join('\n'),
        (d) => copyExec(join(ctx.paths.bin, 'agnhost'), join(d, 'agnhost')),
      );
    },
  };
}

function nodeStep(): Step {
  const nodeFiles = [
    'entrypoint',
    'containerd-config.toml',
    'kubelet.service',
    'kubelet.slice',
    'containerd-lab.conf',
    'lab-preload-images.service',
    'lab-preload-images',
    'default-storage.yaml',
  ];
  return {
    name: 'image-node',
    key: (ctx) => ({
      recipes: RECIPES,
      img: labNodeImage(ctx.lock),
      bins: binHashes([
        ...['kubelet', 'kubeadm', 'kubectl'].map((n) => join(ctx.paths.bin, 'k8s', n)),
        join(ctx.paths.bin, 'crictl'),
        ...ctx.lock.cniPlugins.node.plugins.map((p) => join(ctx.paths.bin, 'cni-node', p)),
      ]),
      files: nodeFiles.map((f) => readFileSync(join(LAB_SOURCE_DIR, 'images/node', f), 'utf8')),
      cp: controlPlaneImages(ctx.lock),
      base: baseImage('node'),
    }),
    outputs: () => [],
    images: (ctx) => [labNodeImage(ctx.lock)],
    build: async (ctx) => {
      const src = join(LAB_SOURCE_DIR, 'images/node');
      const nofile = (await execa('sh', ['-c', 'ulimit -Hn'])).stdout.trim();
      const limit = nofile === 'unlimited' ? '1048576' : nofile;
      const saveDir = join(ctx.paths.images, 'node-preload');
      rmSync(saveDir, { recursive: true, force: true });
      mkdirSync(saveDir, { recursive: true });
      const tars: string[] = [];
      for (const [i, img] of controlPlaneImages(ctx.lock).entries()) {
        const f = join(saveDir, `${i}.tar`);
        await execa('docker', ['save', '-o', f, img]);
        tars.push(f);
      }
      await buildImage(
        ctx,
        [labNodeImage(ctx.lock)],
        [
          `FROM ${baseImage('node')}`,
          'COPY bin/ /usr/bin/',
          'COPY crictl lab-preload-images /usr/local/bin/',
          'COPY cni/ /opt/cni/bin/',
          'COPY entrypoint /usr/local/bin/lab-entrypoint',
          'COPY kind/ /kind/',
          'COPY systemd/ /etc/systemd/system/',
          'COPY containerd-config.toml /etc/containerd/config.toml',
          'COPY crictl.yaml /etc/crictl.yaml',
          'RUN mkdir -p /lib/modules /kind/bin && systemctl enable containerd kubelet lab-preload-images \\',
          ' && systemctl mask getty@tty1.service console-getty.service systemd-udevd.service systemd-udev-trigger.service \\',
          '      systemd-modules-load.service systemd-logind.service apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer \\',
          ' && update-alternatives --set iptables /usr/sbin/iptables-nft && update-alternatives --set ip6tables /usr/sbin/ip6tables-nft',
          'ENV container=docker',
          'STOPSIGNAL SIGRTMIN+3',
          'ENTRYPOINT ["/usr/local/bin/lab-entrypoint", "/sbin/init"]',
          '',
        ].join('\n'),
        (d) => {
          for (const n of ['kubelet', 'kubeadm', 'kubectl'])
            copyExec(join(ctx.paths.bin, 'k8s', n), join(d, 'bin', n));
          copyExec(join(ctx.paths.bin, 'crictl'), join(d, 'crictl'));
          copyExec(join(src, 'lab-preload-images'), join(d, 'lab-preload-images'));
          for (const p of ctx.lock.cniPlugins.node.plugins)
            copyExec(join(ctx.paths.bin, 'cni-node', p), join(d, 'cni', p));
          copyExec(join(src, 'entrypoint'), join(d, 'entrypoint'));
          mkdirSync(join(d, 'kind', 'manifests'), { recursive: true });
          mkdirSync(join(d, 'kind', 'images'), { recursive: true });
          writeFileSync(join(d, 'kind', 'version'), `${ctx.lock.kubernetes.version}\n`);
          copyFileSync(
            join(src, 'default-storage.yaml'),
            join(d, 'kind', 'manifests', 'default-storage.yaml'),
          );
          for (const t of tars) copyFileSync(t, join(d, 'kind', 'images', `cp-${t.split('/').pop()}`));
          mkdirSync(join(d, 'systemd', 'containerd.service.d'), { recursive: true });
          for (const f of ['kubelet.service', 'kubelet.slice', 'lab-preload-images.service']) {
            writeFileSync(
              join(d, 'systemd', f),
              readFileSync(join(src, f), 'utf8').replaceAll('NOFILE_LIMIT', limit),
            );
          }
          writeFileSync(
            join(d, 'systemd', 'containerd.service.d', 'lab.conf'),
            readFileSync(join(src, 'containerd-lab.conf'), 'utf8').replaceAll('NOFILE_LIMIT', limit),
          );
          writeFileSync(
            join(d, 'containerd-config.toml'),
            readFileSync(join(src, 'containerd-config.toml'), 'utf8').replaceAll(
              'PAUSE_VERSION',
              ctx.lock.pause.version,
            ),
          );
          writeFileSync(
            join(d, 'crictl.yaml'),
            'runtime-endpoint: unix:///run/containerd/containerd.sock\nimage-endpoint: unix:///run/containerd/containerd.sock\n',
          );
        },
      );
      rmSync(saveDir, { recursive: true, force: true });
    },
  };
}

export function imageSteps(lock: LabLock): Step[] {
  const [main, ...others] = labCalicoBuilds(lock);
  if (!main) throw new Error('lab.lock.json: no calico');
  return [
    rootfsStep('node'),
    rootfsStep('net'),
    controlPlaneStep(),
    calicoStep(main),
    agnhostStep(),
    nodeStep(),
    operatorStep(),
    ...others.map(calicoStep),
  ];
}

export { imageExists };
