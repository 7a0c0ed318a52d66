// Command lab-runc sits between containerd and runc on a lab node. A privileged pod asks runc for every
// capability the OCI spec names; on this host the node container's bounding set lacks CAP_SYS_RESOURCE,
// and runc then refuses to start the container ("unable to apply caps"). lab-runc drops, from the bundle's
// config.json (create/run) or the process file (exec), every capability outside the current bounding set,
// then replaces itself with the real runc. Nothing else in the spec is touched.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

const realRunc = "/usr/sbin/runc"

var capNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
	"CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
	"CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
	"CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
	"CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN",
	"CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

func boundingSet() (map[string]bool, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := s.Text()
		if !strings.HasPrefix(line, "CapBnd:") {
			continue
		}
		v, err := strconv.ParseUint(strings.TrimSpace(strings.TrimPrefix(line, "CapBnd:")), 16, 64)
		if err != nil {
			return nil, err
		}
		set := map[string]bool{}
		for i, n := range capNames {
			if v&(1<<uint(i)) != 0 {
				set[n] = true
			}
		}
		return set, nil
	}
	return nil, fmt.Errorf("no CapBnd line in /proc/self/status")
}

// filterCaps rewrites the "capabilities" object found at process (a map from a decoded OCI process).
func filterCaps(process map[string]any, allowed map[string]bool) bool {
	caps, ok := process["capabilities"].(map[string]any)
	if !ok {
		return false
	}
	changed := false
	for kind, list := range caps {
		items, ok := list.([]any)
		if !ok {
			continue
		}
		kept := make([]any, 0, len(items))
		for _, it := range items {
			if name, ok := it.(string); ok && !allowed[name] {
				changed = true
				continue
			}
			kept = append(kept, it)
		}
		caps[kind] = kept
	}
	return changed
}

func rewrite(path string, processAtRoot bool, allowed map[string]bool) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return err
	}
	proc := doc
	if !processAtRoot {
		p, ok := doc["process"].(map[string]any)
		if !ok {
			return nil
		}
		proc = p
	}
	if !filterCaps(proc, allowed) {
		return nil
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	return os.WriteFile(path, out, 0o600)
}

func main() {
	args := os.Args[1:]
	allowed, err := boundingSet()
	if err == nil {
		sub := ""
		bundle, process := "", ""
		for i := 0; i < len(args); i++ {
			a := args[i]
			switch {
			case a == "--bundle" || a == "-b":
				if i+1 < len(args) {
					bundle = args[i+1]
				}
			case strings.HasPrefix(a, "--bundle="):
				bundle = strings.TrimPrefix(a, "--bundle=")
			case a == "--process" || a == "-p":
				if i+1 < len(args) {
					process = args[i+1]
				}
			case strings.HasPrefix(a, "--process="):
				process = strings.TrimPrefix(a, "--process=")
			case sub == "" && (a == "create" || a == "run" || a == "exec"):
				sub = a
			}
		}
		if (sub == "create" || sub == "run") && bundle != "" {
			if err := rewrite(filepath.Join(bundle, "config.json"), false, allowed); err != nil {
				fmt.Fprintf(os.Stderr, "lab-runc: %v\n", err)
			}
		}
		if sub == "exec" && process != "" {
			if err := rewrite(process, true, allowed); err != nil {
				fmt.Fprintf(os.Stderr, "lab-runc: %v\n", err)
			}
		}
	}
	if err := syscall.Exec(realRunc, append([]string{"runc"}, args...), os.Environ()); err != nil {
		fmt.Fprintf(os.Stderr, "lab-runc: exec %s: %v\n", realRunc, err)
		os.Exit(127)
	}
}
