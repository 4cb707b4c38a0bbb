/** Kernel tuning that Redis asks for in its own startup warnings. */

/** The kernel's own default for net.core.somaxconn since Linux 5.4. */
export const KERNEL_DEFAULT_SOMAXCONN = 4096;

export const SYSCTL_FILE = "/etc/sysctl.d/60-redis.conf";
export const THP_UNIT_NAME = "redis-disable-thp.service";
export const THP_UNIT_FILE = `/etc/systemd/system/${THP_UNIT_NAME}`;

/**
 * sysctl.d drop-in, applied at every boot by systemd-sysctl.
 * - vm.overcommit_memory = 1: the fork() behind BGSAVE, AOF rewrite and full
 *   resyncs must not fail on a host whose memory is mostly the dataset.
 * - net.core.somaxconn / tcp_max_syn_backlog: the kernel silently caps Redis'
 *   tcp-backlog at somaxconn; never set below the kernel default.
 */
export function renderSysctlConf(tcpBacklog: number): string {
  const backlog = Math.max(tcpBacklog, KERNEL_DEFAULT_SOMAXCONN);
  return [
    "# Written by redis-node-setup (cloud-init). Kernel settings for Redis.",
    "vm.overcommit_memory = 1",
    `net.core.somaxconn = ${backlog}`,
    `net.ipv4.tcp_max_syn_backlog = ${backlog}`,
    "",
  ].join("\n");
}

/**
 * A oneshot unit that turns transparent huge pages off before Redis starts,
 * at every boot (THP makes fork copy-on-write latency and memory spikes).
 */
export function renderThpUnit(): string {
  return [
    "[Unit]",
    "Description=Disable transparent huge pages for Redis",
    "DefaultDependencies=no",
    "After=sysinit.target local-fs.target",
    "Before=redis-server.service redis-sentinel.service",
    "",
    "[Service]",
    "Type=oneshot",
    "RemainAfterExit=yes",
    "ExecStart=/bin/sh -c 'echo never > /sys/kernel/mm/transparent_hugepage/enabled && echo never > /sys/kernel/mm/transparent_hugepage/defrag'",
    "",
    "[Install]",
    "WantedBy=basic.target",
    "",
  ].join("\n");
}
