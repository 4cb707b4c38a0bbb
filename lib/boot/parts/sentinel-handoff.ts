import { BootFile } from "../boot-part";

/**
 * What a Sentinel hook hands over to root: Sentinel (user redis, inside its
 * sandbox) runs `script` with its event, which drops a file into `dir`;
 * a root oneshot `<unit>.service` runs `script <action>` outside the
 * sandbox, started by a path unit when a file arrives and by a timer.
 */
export interface SentinelHandoff {
  /** The unit's name (redis-sentinel-events, redis-dns). */
  readonly unit: string;
  /** Where the hook drops its files (redis owns it). */
  readonly dir: string;
  /** The hook, which is also the root oneshot's program. */
  readonly script: string;
  /** The oneshot's argument. */
  readonly action: string;
  /** The sentinel unit's drop-in that opens the sandbox to the hook. */
  readonly dropIn: string;
  /** systemd's TimeoutStartSec of the oneshot, e.g. "10min". */
  readonly timeout: string;
  /** systemd's OnUnitInactiveSec of the timer, e.g. "2min". */
  readonly every: string;
}

/**
 * The four files of a handoff: redis-sentinel's drop-in (ProtectSystem=strict,
 * NoExecPaths=/ in the Debian and Ubuntu unit: the directory becomes writable,
 * and the hook, bash and mv executable; Sentinel checks its scripts at
 * startup and does not start without them; systemd adds up the lists of
 * several drop-ins), the root oneshot (quiet but for notices and warnings),
 * the path unit and the timer.
 */
export function sentinelHandoffFiles(h: SentinelHandoff): BootFile[] {
  const unit = (...lines: string[]) => [...lines, ""].join("\n");
  const file = (path: string, content: string): BootFile => ({ path, permissions: "0644", content });
  return [
    file(h.dropIn, unit("[Service]", `ReadWritePaths=${h.dir}`, `ExecPaths=${h.script} /usr/bin/bash /usr/bin/mv`)),
    file(`/etc/systemd/system/${h.unit}.service`, unit("[Service]", "Type=oneshot", `ExecStart=${h.script} ${h.action}`, `TimeoutStartSec=${h.timeout}`, "LogLevelMax=notice")),
    file(`/etc/systemd/system/${h.unit}.path`, unit("[Path]", `PathChanged=${h.dir}`, "[Install]", "WantedBy=paths.target")),
    file(`/etc/systemd/system/${h.unit}.timer`, unit("[Timer]", "OnBootSec=1min", `OnUnitInactiveSec=${h.every}`, "[Install]", "WantedBy=timers.target")),
  ];
}
