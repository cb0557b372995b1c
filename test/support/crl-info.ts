/** What a test reads from a CRL (DER): its CRL number (RFC 5280 §5.2.3), thisUpdate and the serials it lists. */
import { AsnConvert } from '@peculiar/asn1-schema';
import { CRLNumber, CertificateList, id_ce_cRLNumber } from '@peculiar/asn1-x509';

export interface CrlInfo {
  number: bigint;
  thisUpdate: number;
  serials: string[];
}

export function crlInfo(der: Uint8Array): CrlInfo {
  const tbs = AsnConvert.parse(der, CertificateList).tbsCertList;
  const ext = tbs.crlExtensions?.find((e) => e.extnID === id_ce_cRLNumber);
  if (!ext) throw new Error('the CRL has no CRL number');
  const n = AsnConvert.parse(ext.extnValue, CRLNumber).value;
  return {
    number: BigInt(n),
    thisUpdate: tbs.thisUpdate.getTime().getTime(),
    serials: (tbs.revokedCertificates ?? []).map((r) => Buffer.from(r.userCertificate).toString('hex')).sort(),
  };
}
