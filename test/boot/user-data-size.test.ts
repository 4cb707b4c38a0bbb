import { randomBytes } from "crypto";
import { BootPart, compressedSize, contributionsOf, renderCloudConfig, USER_DATA_LIMIT_BYTES, userDataSizeProblem } from "../../lib/boot";
import { TEST_LIBRARY } from "../helpers";

const part = (name: string, order: number, content: string): BootPart => ({
  name,
  order,
  packages: [],
  files: [{ path: `/etc/redis-node/${name}`, permissions: "0644", content }],
  env: {},
});

describe("user data size", () => {
  test("compressedSize is the gzip size of the text Terraform renders: escapes undone", () => {
    expect(compressedSize("a $${HOME} b")).toBe(compressedSize("a ${HOME} b"));
    expect(compressedSize("x".repeat(20000))).toBeLessThan(200);
  });

  test("within the limit: no problem", () => {
    const parts = [part("small", 10, "hello\n")];
    expect(userDataSizeProblem(renderCloudConfig(parts, TEST_LIBRARY), () => contributionsOf(parts, TEST_LIBRARY))).toBeUndefined();
  });

  test("over the limit: the problem names the size, the limit and the largest parts first", () => {
    // Random text does not compress: 9 KB + 12 KB of it is over 16 KB gzipped.
    const noise = (bytes: number) => randomBytes(bytes).toString("base64");
    const parts = [part("tiny", 10, "x\n"), part("big", 20, noise(9000)), part("bigger", 30, noise(12000))];
    const userData = renderCloudConfig(parts, TEST_LIBRARY);
    const problem = userDataSizeProblem(userData, () => contributionsOf(parts, TEST_LIBRARY));
    expect(compressedSize(userData)).toBeGreaterThan(USER_DATA_LIMIT_BYTES);
    expect(problem).toMatch(
      new RegExp(`^user data is ${compressedSize(userData)} bytes gzip-compressed, over the EC2 limit of 16384; largest boot parts: bigger \\d+ bytes, big \\d+ bytes, core \\d+ bytes$`),
    );
  });
});
