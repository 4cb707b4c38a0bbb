import { renderSysctlConf, renderThpUnit } from "../../lib/boot";

/** sysctl.d syntax: "key = value" lines, '#' comments. */
function parseSysctl(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    if (line.trim() === "" || /^\s*[#;]/.test(line)) continue;
    const m = /^\s*([\w.]+)\s*=\s*(\S+)\s*$/.exec(line);
    if (!m) throw new Error(`not a sysctl line: ${line}`);
    out[m[1]] = m[2];
  }
  return out;
}

/** systemd unit syntax: [Section] headers and Key=Value lines (repeated keys collected). */
function parseUnit(text: string): Record<string, Record<string, string[]>> {
  const out: Record<string, Record<string, string[]>> = {};
  let section = "";
  for (const line of text.split("\n")) {
    if (line.trim() === "" || line.startsWith("#")) continue;
    const header = /^\[(\w+)\]$/.exec(line);
    if (header) {
      section = header[1];
      out[section] = {};
      continue;
    }
    const m = /^(\w+)=(.*)$/.exec(line);
    if (!m || !section) throw new Error(`not a unit line: ${line}`);
    (out[section][m[1]] ??= []).push(m[2]);
  }
  return out;
}

describe("renderSysctlConf", () => {
  test.each([2048, 10000])("tcp-backlog %i: overcommit on, somaxconn >= the backlog", (backlog) => {
    const sysctl = parseSysctl(renderSysctlConf(backlog));
    expect(sysctl["vm.overcommit_memory"]).toBe("1");
    expect(Number(sysctl["net.core.somaxconn"])).toBeGreaterThanOrEqual(backlog);
    expect(Number(sysctl["net.ipv4.tcp_max_syn_backlog"])).toBeGreaterThanOrEqual(backlog);
  });

  test("never lowers somaxconn below the kernel default of 4096", () => {
    expect(parseSysctl(renderSysctlConf(511))["net.core.somaxconn"]).toBe("4096");
  });

  test("raises somaxconn to exactly a large backlog", () => {
    expect(parseSysctl(renderSysctlConf(10000))["net.core.somaxconn"]).toBe("10000");
  });
});

describe("renderThpUnit", () => {
  const unit = parseUnit(renderThpUnit());

  test("writes never to both enabled and defrag", () => {
    const exec = unit.Service.ExecStart.join("\n");
    expect(exec).toMatch(/echo never > \/sys\/kernel\/mm\/transparent_hugepage\/enabled/);
    expect(exec).toMatch(/echo never > \/sys\/kernel\/mm\/transparent_hugepage\/defrag/);
  });

  test("is a oneshot that stays active, ordered before Redis and Sentinel", () => {
    expect(unit.Service.Type).toEqual(["oneshot"]);
    expect(unit.Service.RemainAfterExit).toEqual(["yes"]);
    const before = unit.Unit.Before.join(" ").split(/\s+/);
    expect(before).toEqual(expect.arrayContaining(["redis-server.service", "redis-sentinel.service"]));
  });

  test("is wanted by a boot target, so it runs at every boot", () => {
    const wantedBy = unit.Install.WantedBy.join(" ").split(/\s+/);
    expect(wantedBy.some((t) => ["basic.target", "sysinit.target", "multi-user.target", "default.target"].includes(t))).toBe(true);
  });
});
