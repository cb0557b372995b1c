/** IP address octets (4 or 16) back to text, for re-issuing the same IP SANs. */
export function ipToText(b: Uint8Array): string {
  if (b.length === 4) return [...b].join('.');
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  return words.join(':');
}
