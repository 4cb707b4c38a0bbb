// A tiny authoritative DNS server over UDP for the tests: A queries answered
// from a lookup (the fake Route 53 zone's records), with each record's TTL;
// NXDOMAIN for a name it does not hold, an empty answer for another type.
// One question per query (RFC 1035 header, question echoed, compressed
// answer names). Bound to a loopback or namespace address the test chose.
import { createSocket, Socket } from "dgram";

/** What the zone holds for a name (lowercase, no trailing dot). */
export type DnsLookup = (name: string) => { readonly ttl: number; readonly addresses: readonly string[] } | undefined;

const TYPE_A = 1;
const CLASS_IN = 1;

/** The answer to one query message, or undefined for a message that is no query to answer. */
export function answerDnsQuery(query: Buffer, lookup: DnsLookup): Buffer | undefined {
  if (query.length < 12) return undefined;
  const id = query.readUInt16BE(0);
  const flags = query.readUInt16BE(2);
  if (flags & 0x8000 || query.readUInt16BE(4) !== 1) return undefined;
  const labels: string[] = [];
  let at = 12;
  for (;;) {
    if (at >= query.length) return undefined;
    const length = query[at];
    if (length === 0) break;
    if (length > 63 || at + 1 + length > query.length) return undefined;
    labels.push(query.toString("latin1", at + 1, at + 1 + length));
    at += 1 + length;
  }
  const questionEnd = at + 5;
  if (questionEnd > query.length) return undefined;
  const qtype = query.readUInt16BE(at + 1);
  const qclass = query.readUInt16BE(at + 3);
  const found = lookup(labels.join(".").toLowerCase());
  const answers = found && qtype === TYPE_A && qclass === CLASS_IN ? found.addresses : [];
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  // QR, AA, RD as asked; RCODE 3 (NXDOMAIN) when the name is not in the zone.
  header.writeUInt16BE(0x8000 | 0x0400 | (flags & 0x0100) | (found ? 0 : 3), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  const records = answers.map((address) => {
    const rr = Buffer.alloc(16);
    rr.writeUInt16BE(0xc00c, 0); // the question's name, at offset 12
    rr.writeUInt16BE(TYPE_A, 2);
    rr.writeUInt16BE(CLASS_IN, 4);
    rr.writeUInt32BE(found!.ttl, 6);
    rr.writeUInt16BE(4, 10);
    address.split(".").forEach((octet, i) => rr.writeUInt8(Number(octet), 12 + i));
    return rr;
  });
  return Buffer.concat([header, query.subarray(12, questionEnd), ...records]);
}

/** Starts the server on address:0 (a free port); close the socket when done. */
export async function startFakeDns(address: string, lookup: DnsLookup): Promise<{ socket: Socket; port: number; queries: string[] }> {
  const socket = createSocket("udp4");
  const queries: string[] = [];
  socket.on("message", (message, remote) => {
    const reply = answerDnsQuery(message, lookup);
    if (!reply) return;
    queries.push(`${remote.address} ${message.length}`);
    socket.send(reply, remote.port, remote.address);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(0, address, () => resolve());
  });
  return { socket, port: socket.address().port, queries };
}
