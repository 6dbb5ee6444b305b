/** IP addresses and CIDR blocks, as lists in the config name them (node:net's BlockList does the matching). */
import { BlockList, isIP } from 'node:net';

/** Why an entry cannot be used as an address or block, or null when it can (`10.0.0.5`, `10.0.0.0/8`, `::1`). */
export function addressBlockProblem(entry: string): string | null {
  const [address, bits, extra] = entry.split('/');
  if (extra !== undefined || !address) return `"${entry}" is not an IP address or a CIDR block like 10.0.0.0/8`;
  const family = isIP(address);
  if (family === 0) return `"${address}" is not an IPv4 or IPv6 address`;
  if (bits === undefined) return null;
  const max = family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > max)
    return `"/${bits}" is not a prefix length for IPv${family} (0-${max})`;
  return null;
}

/** Whether an address is in one of the entries (each valid by `addressBlockProblem`); false for a non-address. */
export function addressMatcher(entries: readonly string[]): (address: string) => boolean {
  const list = new BlockList();
  for (const entry of entries) {
    const [address, bits] = entry.split('/') as [string, string | undefined];
    const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(bits), type);
  }
  return (address) => {
    const family = isIP(address);
    return family !== 0 && list.check(address, family === 6 ? 'ipv6' : 'ipv4');
  };
}
