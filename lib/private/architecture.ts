import { Token } from "cdktf";

/** CPU architecture of an instance type, as Debian and Ubuntu name it in image names. */
export enum CpuArchitecture {
  AMD64 = "amd64",
  ARM64 = "arm64",
}

/** Graviton: a1, and families with a "g" right after the generation (m7g, r6gd, t4g, c7gn, x2gd, im4gn, g5g). */
export function architectureOf(instanceType: string): CpuArchitecture {
  if (Token.isUnresolved(instanceType)) return CpuArchitecture.AMD64;
  return /^([a-z]+\d+g|a1$)/.test(instanceType.split(".")[0]) ? CpuArchitecture.ARM64 : CpuArchitecture.AMD64;
}
