// The password rotation's SSM document (a pure rendering) and its script's
// own refusals, run for real in bash; the rotation itself, on real Redis and
// Sentinel, is in test/integration/password-rotation.test.ts.
import { spawnSync } from "child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join, resolve } from "path";
import { bootAsset, renderRotatePasswordDocument, ROTATION_STEPS, ROTATION_USER_PATTERN, rotatePasswordScript, unescapeTerraformTemplate } from "../../lib/boot";
import { testNeeding } from "../helpers";

const BOOT_LIB = resolve(__dirname, "../../lib/boot/assets");
const SECRET_FETCH = resolve(__dirname, "../../lib/boot/parts/assets/secret-fetch.sh");
const withShellcheck = testNeeding(["shellcheck"]);

/** The document as SSM reads it: Terraform's escapes undone. */
const documentOf = () => JSON.parse(unescapeTerraformTemplate(renderRotatePasswordDocument()));
/** The script with the parameters put in, as SSM does before it runs it. */
const scriptFor = (step: string, user: string) =>
  (documentOf().mainSteps[0].inputs.runCommand as string[]).join("\n").split("{{ Step }}").join(step).split("{{ User }}").join(user);

describe("the rotate-password document", () => {
  test("a Command document (schema 2.2) with one shell step: the asset's script, line by line", () => {
    const doc = documentOf();
    expect(doc.schemaVersion).toBe("2.2");
    expect(doc.mainSteps).toHaveLength(1);
    expect(doc.mainSteps[0]).toMatchObject({ action: "aws:runShellScript", name: "rotatePassword", inputs: { timeoutSeconds: "600" } });
    expect(doc.mainSteps[0].inputs.runCommand.join("\n") + "\n").toBe(bootAsset("rotate-password.sh"));
    expect(rotatePasswordScript()).toBe(bootAsset("rotate-password.sh"));
    expect(doc.mainSteps[0].inputs.runCommand[0]).toBe("#!/bin/bash");
  });

  test("parameters: User restricted to an ACL user name (SSM puts it into the script), Step to add, switch, retire", () => {
    expect(documentOf().parameters).toEqual({
      User: { type: "String", description: expect.any(String), allowedPattern: "^[A-Za-z0-9_-]+$" },
      Step: { type: "String", description: expect.any(String), allowedValues: ["add", "switch", "retire"] },
    });
    expect(ROTATION_STEPS).toEqual(["add", "switch", "retire"]);
    const pattern = new RegExp(ROTATION_USER_PATTERN);
    for (const bad of ["a b", "x'y", "$(id)", "a;b", ""]) expect({ bad, allowed: pattern.test(bad) }).toEqual({ bad, allowed: false });
  });

  test("the script's only SSM placeholders are the two parameters, in single quotes", () => {
    const script = rotatePasswordScript();
    expect(script.match(/\{\{[^}]*\}\}/g)).toEqual(["{{ Step }}", "{{ User }}"]);
    expect(script.trimEnd().split("\n").pop()).toBe("main '{{ Step }}' '{{ User }}'");
  });

  test("Terraform gets the script's ${ and %{ escaped", () => {
    const content = renderRotatePasswordDocument();
    expect(content.match(/(?<!\$)\$\{/g)).toBeNull();
    expect(content.match(/(?<!%)%\{/g)).toBeNull();
    expect(content).toContain("$${");
  });

  withShellcheck("the script passes shellcheck -s bash, as it is and with the parameters put in", () => {
    const dir = mkdtempSync(join(tmpdir(), "rotate-shellcheck-"));
    try {
      for (const [name, text] of [["asset.sh", rotatePasswordScript()], ["sent.sh", scriptFor("add", "app")]]) {
        writeFileSync(join(dir, name), text);
        const r = spawnSync("shellcheck", ["-s", "bash", join(dir, name)], { encoding: "utf8" });
        expect({ name, status: r.status, output: r.stdout + r.stderr }).toEqual({ name, status: 0, output: "" });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the script refuses before it touches anything", () => {
  let dir = "";
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "rotate-password-"));
    writeFileSync(join(dir, "secrets.list"), "app sha256 ssm /redis/app-sha256\n");
    writeFileSync(join(dir, "node-ops.password"), "f".repeat(64), { mode: 0o600 });
    writeFileSync(
      join(dir, "node.env"),
      [`SECRETS_LIST='${dir}/secrets.list'`, `SECRET_FETCH_STEP='${SECRET_FETCH}'`, `NODE_OPS_PASSWORD_FILE='${dir}/node-ops.password'`, ""].join("\n"),
    );
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  // No redis-server or sentinel here (no REDIS_PORT or SENTINEL_PORT): each case stops before asking one.
  const run = (step: string, user: string) => {
    writeFileSync(join(dir, "script.sh"), scriptFor(step, user), { mode: 0o700 });
    return spawnSync("bash", [join(dir, "script.sh")], {
      encoding: "utf8",
      env: { ...process.env, REDIS_NODE_LIB: BOOT_LIB, REDIS_NODE_ENV: join(dir, "node.env"), REDIS_NODE_RUN_DIR: join(dir, "run"), REDIS_NODE_STATE_DIR: join(dir, "state") },
    });
  };

  test.each([
    ["drop", "app", "'drop' is not a step: add, switch or retire"],
    ["add", "x y", "'x y' is not a user name"],
    ["add", "node-ops", "node-ops has no password in the secret store: nothing to rotate"],
    ["retire", "default", "default has no password in the secret store: nothing to rotate"],
  ])("%s %s: exits 1 saying why", (step, user, message) => {
    const r = run(step, user);
    expect({ status: r.status, stderr: r.stderr.trim() }).toEqual({ status: 1, stderr: `rotate-password: ERROR: ${message}` });
  });

  test("without the node-ops password (not root, or a node booted before rotation existed): a clear error", () => {
    rmSync(join(dir, "node-ops.password"));
    const r = run("add", "app");
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("cannot read");
    expect(r.stderr).toContain("a node booted before password rotation has no node-ops user");
  });

  test("switch of a user the nodes never log in as: the clients' move, nothing to do on the node", () => {
    const r = run("switch", "app");
    expect({ status: r.status, stdout: r.stdout.trim() }).toEqual({
      status: 0,
      stdout: "rotate-password: the nodes never log in as app: its clients move to the new password (after add, before retire); nothing to do on the nodes",
    });
  });

  test("nothing of this node's to do: says so, succeeds, and leaves no private directory behind", () => {
    const r = run("add", "monitor");
    expect({ status: r.status, stdout: r.stdout.trim() }).toEqual({ status: 0, stdout: "rotate-password: monitor is not a user of this node's redis-server or sentinel: nothing to do" });
    expect(spawnSync("ls", ["-A", join(dir, "run")], { encoding: "utf8" }).stdout).toBe("");
  });
});

describe.each([
  { user: "sentinel-client", who: "role decision", env: "ROLE" },
  { user: "node-handover", who: "planned failover", env: "HANDOVER" },
])("switch of $user on a data node of dedicated sentinels (the $who's login)", ({ user, who, env }) => {
  let dir = "";
  const ROLE_STEP = resolve(__dirname, "../../lib/boot/parts/assets/redis-role.sh");
  const SENTINELS = ["10.0.9.1", "10.0.9.2"];
  // Answers PING with PONG, or WRONGPASS for the hosts in $REFUSING; logs each call's host, user and password.
  const FAKE_CLI = `#!/bin/bash
host="" user=""
while (($#)); do
  case $1 in
    -h) host=$2; shift ;;
    --user) user=$2; shift ;;
    -p|--cacert|--cert|--key) shift ;;
  esac
  shift
done
echo "$host $user $REDISCLI_AUTH" >>"\${FAKE_DIR:?}/calls.log"
if [[ " \${REFUSING:-} " == *" $host "* ]]; then echo "AUTH failed: WRONGPASS invalid username-password pair or user is disabled."; echo "NOAUTH Authentication required."; exit 0; fi
echo PONG
`;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "rotate-client-"));
    // The boot library as a node has it: redis.sh, common.sh and parts/redis-role.sh side by side.
    mkdirSync(join(dir, "lib", "parts"), { recursive: true });
    for (const file of ["common.sh", "redis.sh"]) symlinkSync(join(BOOT_LIB, file), join(dir, "lib", file));
    symlinkSync(ROLE_STEP, join(dir, "lib", "parts", "redis-role.sh"));
    mkdirSync(join(dir, "bin"));
    writeFileSync(join(dir, "bin", "redis-cli"), FAKE_CLI, { mode: 0o755 });
    // The secret store's new value, as fetch_secret of the secret-fetch step would return it.
    writeFileSync(join(dir, "fetch.sh"), "fetch_secret() { printf '%s' 'New.pw-1'; }\n");
    writeFileSync(join(dir, "secrets.list"), `${user} password ssm /redis/${user}\n`);
    writeFileSync(join(dir, "node-ops.password"), "f".repeat(64), { mode: 0o600 });
    writeFileSync(join(dir, "role.password"), "Old.pw-0", { mode: 0o600 });
    writeFileSync(
      join(dir, "node.env"),
      [
        `SECRETS_LIST='${dir}/secrets.list'`, `SECRET_FETCH_STEP='${dir}/fetch.sh'`, `NODE_OPS_PASSWORD_FILE='${dir}/node-ops.password'`,
        "REDIS_PORT=''", `${env}_USER='${user}'`, `${env}_PASSWORD_FILE='${dir}/role.password'`, `ROLE_SENTINELS='${SENTINELS.join(" ")}'`, "ROLE_SENTINEL_PORT='26379'", "",
      ].join("\n"),
    );
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const run = (step: string, refusing = "") => {
    writeFileSync(join(dir, "script.sh"), scriptFor(step, user), { mode: 0o700 });
    return spawnSync("bash", [join(dir, "script.sh")], {
      encoding: "utf8",
      env: {
        ...process.env,
        PATH: `${join(dir, "bin")}:${process.env.PATH}`,
        FAKE_DIR: dir,
        REFUSING: refusing,
        REDIS_NODE_LIB: join(dir, "lib"),
        REDIS_NODE_ENV: join(dir, "node.env"),
        REDIS_NODE_RUN_DIR: join(dir, "run"),
        REDIS_NODE_STATE_DIR: join(dir, "state"),
      },
    });
  };
  const calls = () => (existsSync(join(dir, "calls.log")) ? readFileSync(join(dir, "calls.log"), "utf8").trim().split("\n") : []);

  test("every sentinel takes the new password: the password file gets it (root only), and retire then finds the node switched", () => {
    const r = run("switch");
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
    expect(calls()).toEqual(SENTINELS.map((ip) => `${ip} ${user} New.pw-1`));
    expect(readFileSync(join(dir, "role.password"), "utf8")).toBe("New.pw-1");
    expect(statSync(join(dir, "role.password")).mode & 0o777).toBe(0o600);
    expect(r.stdout).toContain(`rotate-password: ${who}: asks the sentinels with the new password of ${user} (${dir}/role.password)`);
    expect(existsSync(join(dir, "state", "rotation", `${user}.switched`))).toBe(true);
  });

  test("a sentinel that refuses it (add has not run there): fails, the password file keeps the old one", () => {
    const r = run("switch", SENTINELS[1]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`the sentinel at ${SENTINELS[1]}:26379 does not accept the new password of ${user}: run the add step on every node first; nothing was switched`);
    expect(readFileSync(join(dir, "role.password"), "utf8")).toBe("Old.pw-0");
  });
});
