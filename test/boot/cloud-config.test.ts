import { spawnSync } from "child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join, resolve } from "path";
import {
  AWS_SCRIPT_PATH,
  bootAsset,
  bootLibrary,
  BootPart,
  embeddedShell,
  BOOT_SCRIPT_PATH,
  COMMON_SCRIPT_PATH,
  escapeTerraformTemplate,
  partStepAsset,
  NODE_ENV_PATH,
  REDIS_RESTART_DROP_IN,
  redisServerPart,
  renderCloudConfig,
  renderNodeEnv,
  renderRedisConf,
  renderSentinelConf,
  SecretForm,
  secretFetchPart,
  SECRETS_LIST_PATH,
  SETUP_DONE_MARKER,
  sentinelPart,
  SYSCTL_FILE,
  THP_UNIT_FILE,
  tuningPart,
  unescapeTerraformTemplate,
} from "../../lib/boot";
import { SecretStore } from "../../lib/auth/secret-store";
import { cloudConfigFiles, nodeEnvVariable, parseCloudConfig, redisConfSettings, sentinelConfSettings, TEST_LIBRARY } from "../helpers";

/** `${` or `%{` that Terraform would read as the start of an interpolation or directive. */
const UNESCAPED_TEMPLATE_SEQUENCE = /(?<!\$)\$\{|(?<!%)%\{/;

describe("escapeTerraformTemplate / unescapeTerraformTemplate", () => {
  // Every string of length <= 5 over the characters that matter.
  const alphabet = ["$", "%", "{", "}", "a"];
  const samples: string[] = [""];
  for (let len = 1; len <= 5; len++) {
    for (const prefix of samples.filter((s) => s.length === len - 1)) for (const c of alphabet) samples.push(prefix + c);
  }

  test("round trips every short string over $ % { } a", () => {
    const broken = samples.filter((s) => unescapeTerraformTemplate(escapeTerraformTemplate(s)) !== s);
    expect(broken).toEqual([]);
  });

  test("leaves no ${ or %{ that is not escaped", () => {
    const leaking = samples.map(escapeTerraformTemplate).filter((s) => UNESCAPED_TEMPLATE_SEQUENCE.test(s));
    expect(leaking).toEqual([]);
  });

  test("escapes shell parameter expansions of the boot scripts", () => {
    const common = bootAsset("common.sh");
    const escaped = escapeTerraformTemplate(common);
    expect(common).toMatch(/\$\{/);
    expect(escaped).not.toMatch(UNESCAPED_TEMPLATE_SEQUENCE);
    expect(escaped).toContain("$${REDIS_NODE_ENV:-/etc/redis-node/node.env}");
    expect(unescapeTerraformTemplate(escaped)).toBe(common);
  });

  test("keeps text without template sequences as it is", () => {
    expect(escapeTerraformTemplate("echo $HOME 100% {x}")).toBe("echo $HOME 100% {x}");
  });
});

const secret = {
  user: "replication",
  form: SecretForm.PASSWORD,
  store: SecretStore.SSM,
  secretId: "/redis/password",
  secretArn: "arn:aws:ssm:us-east-1:123456789012:parameter/redis/password",
};
const redisPart = (restartDelaySeconds?: number) =>
  redisServerPart({ conf: redisConfSettings({ tcpBacklog: 10000 }), applicationUsers: [], sentinelUser: true, minRedisMajor: 7, restartDelaySeconds, openFilesLimit: 65535 });
const dataNodeParts = (): BootPart[] => [
  tuningPart({ tcpBacklog: 10000 }),
  secretFetchPart([secret]),
  redisPart(),
  sentinelPart({ conf: sentinelConfSettings(), minRedisMajor: 7 }),
];

describe("renderCloudConfig from boot parts", () => {
  const parts = dataNodeParts();
  const userData = renderCloudConfig(parts, TEST_LIBRARY);
  const doc = parseCloudConfig(userData);
  const files = cloudConfigFiles(userData);

  test("installs what each part asks for, once", () => {
    expect(doc.package_update).toBe(true);
    expect(doc.packages).toEqual(["curl", "python3", "redis-server", "redis-tools", "redis-sentinel"]);
  });

  test("writes each rendered file unchanged", () => {
    expect(files["/etc/redis-node/redis.conf.template"]).toBe(renderRedisConf(redisConfSettings({ tcpBacklog: 10000 })));
    expect(files["/etc/redis-node/sentinel.conf.template"]).toBe(renderSentinelConf(sentinelConfSettings()));
    const boot = [
      "BOOT_PARTS='tuning secret-fetch redis-server sentinel'",
      "REDIS_NODE_SERVICES='redis-server.service redis-sentinel.service'",
      "BOOT_LIBRARY_PARAMETERS='/test/boot/0 /test/boot/1'",
      `BOOT_LIBRARY_SHA256='${bootLibrary().sha256}'`,
    ];
    expect(files[NODE_ENV_PATH]).toBe(`${boot.join("\n")}\n${renderNodeEnv(parts)}`);
    expect(files[BOOT_SCRIPT_PATH]).toBe(embeddedShell(bootAsset("bootstrap.sh")));
    expect(files[COMMON_SCRIPT_PATH]).toBe(embeddedShell(bootAsset("common.sh")));
    expect(files[AWS_SCRIPT_PATH]).toBe(embeddedShell(bootAsset("aws.sh")));
  });

  test("the steps are not in the user data but in the boot library; node.env lists them in part order", () => {
    expect(Object.keys(files).filter((p) => p.startsWith("/usr/local/lib/redis-node/parts/"))).toEqual([]);
    expect(nodeEnvVariable(userData, "BOOT_PARTS")).toBe(parts.map((p) => p.step!.replace(/\.sh$/, "")).join(" "));
    for (const part of parts) expect(bootLibrary().paths).toContain(`parts/${part.step}`);
  });

  test("a part whose step is not in the library is refused", () => {
    const stray: BootPart = { name: "stray", order: 50, packages: [], files: [], env: {}, step: "no-such-step.sh" };
    expect(() => renderCloudConfig([...parts, stray], TEST_LIBRARY)).toThrow(/Boot part stray: its step no-such-step.sh is not in the boot library/);
  });

  test("the order of the parts given does not matter", () => {
    expect(renderCloudConfig([...parts].reverse(), TEST_LIBRARY)).toBe(userData);
  });

  test("tunes the kernel for the node's tcp-backlog", () => {
    expect(files[SYSCTL_FILE]).toMatch(/^net\.core\.somaxconn = 10000$/m);
    expect(files[SYSCTL_FILE]).toMatch(/^vm\.overcommit_memory = 1$/m);
    expect(files[THP_UNIT_FILE]).toMatch(/transparent_hugepage\/enabled/);
  });

  test("keeps secrets and templates private, the scripts executable", () => {
    const modes = Object.fromEntries((doc.write_files as Array<{ path: string; permissions: string }>).map((f) => [f.path, f.permissions]));
    expect(modes[NODE_ENV_PATH]).toBe("0600");
    expect(modes["/etc/redis-node/redis.conf.template"]).toBe("0600");
    expect(modes["/etc/redis-node/sentinel.conf.template"]).toBe("0600");
    expect(modes[BOOT_SCRIPT_PATH]).toBe("0755");
    expect(modes[COMMON_SCRIPT_PATH]).toBe("0644");
    expect(modes[AWS_SCRIPT_PATH]).toBe("0644");
  });

  test("masks the packaged units at every boot until a setup succeeded, so apt cannot start them with stock settings", () => {
    expect(doc.bootcmd).toEqual([`[ -e ${SETUP_DONE_MARKER} ] || systemctl mask redis-server.service redis-sentinel.service`]);
    expect(parseCloudConfig(renderCloudConfig([tuningPart({ tcpBacklog: 1 })], TEST_LIBRARY)).bootcmd).toBeUndefined();
    // Each unit is unmasked only by its own part, after the configs are in place (boot-phases.test.ts: then one reload, then the starts).
    for (const [step, unit, config] of [["redis-server.sh", "redis-server", "redis.conf"], ["sentinel.sh", "redis-sentinel", "sentinel.conf"]]) {
      expect(readFileSync(resolve(__dirname, "../../lib/boot/parts/assets", step), "utf8")).toMatch(new RegExp(`install_config ${config}\\n\\s*(#[^\\n]*\\n\\s*)?enable_units ${unit}\\.service\\n`));
    }
  });

  test("runs the entry script once, from runcmd", () => {
    expect(doc.runcmd).toEqual([[BOOT_SCRIPT_PATH]]);
  });

  test("is a Terraform template with nothing to interpolate when every value is literal", () => {
    expect(userData).not.toMatch(UNESCAPED_TEMPLATE_SEQUENCE);
  });

  test("a node without the redis-server part gets no redis-server, no redis.conf and no step for it", () => {
    const sentinelOnly = renderCloudConfig(parts.filter((p) => p.name !== "redis-server"), TEST_LIBRARY);
    const only = cloudConfigFiles(sentinelOnly);
    expect(parseCloudConfig(sentinelOnly).packages).toEqual(["curl", "python3", "redis-sentinel", "redis-tools"]);
    expect(Object.keys(only)).not.toContain("/etc/redis-node/redis.conf.template");
    expect(nodeEnvVariable(sentinelOnly, "BOOT_PARTS")).toBe("tuning secret-fetch sentinel");
    expect(Object.keys(only)).toContain("/etc/redis-node/sentinel.conf.template");
  });

  test("a restart delay becomes a redis-server drop-in; none without one", () => {
    const delayed = cloudConfigFiles(renderCloudConfig([redisPart(15)], TEST_LIBRARY));
    expect(REDIS_RESTART_DROP_IN).toMatch(/^\/etc\/systemd\/system\/redis-server\.service\.d\/[\w-]+\.conf$/);
    expect(delayed[REDIS_RESTART_DROP_IN]).toMatch(/^\[Service\]\nRestartSec=15$/m);
    expect(files[REDIS_RESTART_DROP_IN]).toBeUndefined();
  });

  test("refuses a node without parts, and a part given twice", () => {
    expect(() => renderCloudConfig([], TEST_LIBRARY)).toThrow(/at least one boot part/);
    expect(() => renderCloudConfig([...parts, tuningPart({ tcpBacklog: 1 })], TEST_LIBRARY)).toThrow(/tuning is there twice/);
  });

  test("the secret-fetch part lists its secrets for the node and grants exactly their reads", () => {
    const hash = { ...secret, user: "admin", form: SecretForm.SHA256, secretId: "/redis/admin-sha256", secretArn: `${secret.secretArn}-x` };
    const part = secretFetchPart([{ ...secret, kmsKeyArn: "arn:aws:kms:us-east-1:123456789012:key/k" }, hash]);
    expect(part.files).toEqual([{ path: SECRETS_LIST_PATH, permissions: "0600", content: "replication password ssm /redis/password\nadmin sha256 ssm /redis/admin-sha256\n" }]);
    const added: unknown[] = [];
    part.bind!({ addToPolicy: (s) => added.push(s) });
    expect(added).toEqual([
      { actions: ["ssm:GetParameter"], resources: [secret.secretArn] },
      {
        actions: ["kms:Decrypt"],
        resources: ["arn:aws:kms:us-east-1:123456789012:key/k"],
        conditions: { StringLike: { "kms:ViaService": "ssm.*" }, StringEquals: { "kms:EncryptionContext:PARAMETER_ARN": secret.secretArn } },
      },
      { actions: ["ssm:GetParameter"], resources: [hash.secretArn] },
    ]);
  });
});

describe("renderNodeEnv", () => {
  const part = (name: string, env: Record<string, string>): BootPart => ({ name, order: 1, packages: [], files: [], env });

  test("bash reads back every value, quotes included", () => {
    const dir = mkdtempSync(join(tmpdir(), "node-env-"));
    try {
      const file = join(dir, "node.env");
      const odd = "it's $HOME `x` \"y\"";
      writeFileSync(file, renderNodeEnv([part("a", { REDIS_SECRET_ID: odd, REDIS_PORT: "6379" }), part("b", { SENTINEL_PORT: "26379" })]));
      const vars = ["REDIS_SECRET_ID", "REDIS_PORT", "SENTINEL_PORT"];
      const out = spawnSync("bash", ["-c", `set -eu; source "$1"; printf '%s\\n' ${vars.map((v) => `"$${v}"`).join(" ")}`, "_", file], {
        encoding: "utf8",
      });
      expect(out.stderr).toBe("");
      expect(out.stdout.split("\n").slice(0, -1)).toEqual([odd, "6379", "26379"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a variable two parts set alike is written once; set differently, it is an error", () => {
    expect(renderNodeEnv([part("a", { MIN_REDIS_MAJOR: "7" }), part("b", { MIN_REDIS_MAJOR: "7" })])).toBe("MIN_REDIS_MAJOR='7'\n");
    expect(() => renderNodeEnv([part("a", { MIN_REDIS_MAJOR: "7" }), part("b", { MIN_REDIS_MAJOR: "8" })])).toThrow(
      /Boot parts a and b set MIN_REDIS_MAJOR to different values/,
    );
  });
});

describe("embeddedShell", () => {
  const assets: Array<[string, string]> = [
    ...["boot.sh", "bootstrap.sh", "common.sh", "aws.sh", "redis.sh"].map((name): [string, string] => [name, bootAsset(name)]),
    ...["tuning.sh", "secret-fetch.sh", "tls.sh", "data-volume.sh", "redis-server.sh", "sentinel.sh"].map((name): [string, string] => [name, partStepAsset(name)]),
  ];

  /** The script as bash parsed it: wrapped in a function, printed back by `declare -f`, which drops comments. */
  const parsedByBash = (script: string) => {
    const out = spawnSync("bash", ["-c", 'eval "script_body() {\n$1\n}" && declare -f script_body', "_", script], { encoding: "utf8" });
    if (out.status !== 0) throw new Error(`bash could not parse the script: ${out.stderr}`);
    return out.stdout;
  };

  test.each(assets)("%s: bash parses the embedded script to the same code; shebang and shellcheck directives stay", (_name, script) => {
    const embedded = embeddedShell(script);
    expect(parsedByBash(embedded)).toBe(parsedByBash(script));
    expect(embedded.split("\n")[0]).toBe("#!/bin/bash");
    const directives = (text: string) => text.split("\n").filter((l) => /^\s*# shellcheck /.test(l));
    expect(directives(embedded)).toEqual(directives(script));
    // Comments did go: the test would pass trivially on an unchanged script.
    expect(embedded.length).toBeLessThan(script.length);
    expect(embedded.split("\n").filter((l, i) => i > 0 && /^\s*#/.test(l) && !/# shellcheck /.test(l))).toEqual([]);
  });

  test("the check would catch a stripped line that was not a comment", () => {
    const script = "#!/bin/bash\nx='a\n# not a comment, inside a string\nb'\n";
    expect(parsedByBash(embeddedShell(script))).not.toBe(parsedByBash(script));
  });
});
