// The words of the generated data: investigation vocabulary, so full-text search has realistic selectivity.
// "fraud" is in about 15% of cases (8% of titles, 8% of descriptions); "fraudulent" stems apart from it.

import type { Random, Weighted } from './random.ts';

/** A comma-separated list. */
const words = (text: string): readonly string[] => text.trim().split(/\s*,\s*/);
/** One sentence a line. */
const lines = (text: string): readonly string[] => text.trim().split(/\s*\n\s*/);

const subjects: Weighted<string> = [
  ['Card-not-present fraud', 4],
  ['First-party fraud', 2],
  ['Return fraud', 2],
  ['Account takeover', 7],
  ['Suspected money laundering', 6],
  ['Chargeback spike', 5],
  ['Phishing campaign', 5],
  ['Wire transfer anomaly', 5],
  ['Sanctions screening hit', 4],
  ['Identity theft report', 4],
  ['Mule account cluster', 4],
  ['Credential stuffing', 4],
  ['Business email compromise', 4],
  ['Synthetic identity', 3],
  ['Shell company network', 3],
  ['Invoice manipulation', 3],
  ['Promotion abuse', 3],
  ['Refund abuse', 3],
  ['Crypto off-ramp', 3],
  ['Structuring deposits', 3],
  ['SIM swap', 3],
  ['Insider data exfiltration', 2],
  ['Payroll diversion', 2],
  ['Loan stacking', 2],
  ['Elder financial abuse', 2],
  ['Gift card laundering', 2],
  ['Beneficial owner mismatch', 2],
  ['Dormant account reactivation', 2],
  ['Vendor kickback', 1],
  ['Trade-based laundering', 1],
];
const contexts = words(
  'at merchant, via partner, in region, through branch, on platform, linked to customer',
);
const places = words(`Northwind, Contoso, Fabrikam, Tailspin, Woodgrove, Litware, Proseware, Adatum, Lucerne,
  Wingtip, Alpine Ski House, Coho Winery, Margie Travel, Fourth Coffee, Humongous Insurance, Trey Research,
  Blue Yonder, Wide World Importers`);
const sentences = lines(`
  Multiple transactions were flagged by the velocity rule within a short window.
  The customer reported unrecognised activity on the account.
  Device fingerprints match a cluster seen in earlier fraud cases.
  Funds moved through several intermediary accounts before withdrawal.
  The beneficiary was added minutes before a large outbound wire transfer.
  Shipping and billing addresses differ and the IP geolocates abroad.
  Chargebacks exceed the merchant threshold for the second month.
  An employee accessed records outside their usual scope.
  Documents submitted at onboarding appear to be altered.
  Login attempts from a credential stuffing botnet preceded the change of email.
  The counterparty appears on a sanctions watchlist with a partial name match.
  Cash deposits were kept just under the reporting threshold.
  The invoice amounts were rounded and issued by a newly registered supplier.
  Support received a call from someone impersonating the account holder.
  Refunds were issued to a card that never made a purchase.
  Phishing emails impersonating the CFO requested an urgent payment.
  The merchant category code does not match the goods sold.
  Payout details were changed shortly before payroll.
  Linked accounts share a phone number and a device.
  A mule account received transfers from several unrelated victims.
  The loan applications used the same employer and income documents.
  Crypto exchange withdrawals followed each incoming transfer.
  The pattern suggests fraudulent use of a stolen identity.
  Analyst review requested before the account is closed.
  The shell company has no employees and a registered agent address.
  A new payee was set up from a device never seen before.
  Several applications reuse one synthetic identity with a fresh email.
  The SIM was swapped an hour before the password reset.
  Gift cards were bought in bulk and redeemed in another country.
  Correspondent bank asked for the source of funds.`);

const firstNames =
  words(`Ada, Grace, Alan, Edsger, Barbara, Donald, Frances, Ken, Radia, Leslie, Margaret, John, Shafi,
  Hedy, Tim, Katherine, Niklaus, Sophie, Dennis, Joan, Bjarne, Annie, Guido, Lynn`);
const lastNames = words(`Lovelace, Hopper, Turing, Dijkstra, Liskov, Knuth, Allen, Thompson, Perlman, Lamport,
  Hamilton, McCarthy, Goldwasser, Lamarr, Berners-Lee, Johnson, Wirth, Wilson, Ritchie, Clarke, Stroustrup,
  Easley, van Rossum, Conway`);
const companySuffixes = words('Ltd, GmbH, Holdings, Trading, LLC, S.A., Logistics, Capital, Imports');
const streets = words(
  'Harbour Street, Mill Lane, Station Road, King Street, Elm Avenue, Canal Walk, Market Square',
);
const cities = words('Leeds, Rotterdam, Lyon, Porto, Gdansk, Bristol, Antwerp, Turin, Valencia, Aarhus');
const countries = words('GB, NL, FR, PT, PL, DE, BE, IT, ES, DK');
const banks = words('NWBK, ABNA, BNPA, BCOM, PKOP, DEUT, GEBA, UNCR, CAIX, DABA');
const devices = words(
  'iPhone 15, Pixel 8, Galaxy S23, iPad Air, Windows desktop, MacBook Air, Android tablet',
);
/** Documentation address ranges (RFC 5737), never someone's real address. */
const ipv4Prefixes = words('192.0.2, 198.51.100, 203.0.113');
const rules = words('velocity-24h, new-payee-high-value, geo-mismatch, round-amounts, dormant-reactivation');
const documents = words('bank statement, proof of address, passport scan, invoice copy, chat transcript');
const parties = words('the customer, the merchant, the partner bank, the account holder, law enforcement');
const statuses = words('open, investigating, escalated, closed');
const notes = lines(`
  Customer confirmed they did not authorise the transfer.
  Requested statements for the last 90 days.
  Waiting on the partner bank to respond.
  Froze the card and issued a replacement.
  Device matches an earlier case; linking.
  Sanctions match ruled out: different date of birth.
  The IBAN belongs to a mule account seen last week.
  Escalating to the fraud operations lead.
  Closed as false positive after review.
  Drafting the SAR now.
  Merchant sent delivery confirmation with a different signature.
  Recovered part of the funds through a recall request.`);

const orgNames = words('Financial Crimes, Trust & Safety, Risk Operations');
const teamNames = words('Card Fraud, AML, Account Security, Disputes, Insider Risk, Sanctions, Onboarding');
const entityKinds = ['person', 'organization', 'account', 'device', 'address', 'ip'] as const;
/** The kinds the schema's CHECK allows. */
export type EntityKind = (typeof entityKinds)[number];

/**
 * The word lists the generator needs directly, and text generators that each draw from the given random
 * source only (so a table's rows depend on its own stream alone).
 *
 * @example
 * const random = new Random(1);
 * vocabulary.caseTitle(random); // e.g. 'Account takeover via partner Contoso'
 * vocabulary.entityName(random, 'account'); // e.g. 'NL42 ABNA 4821 9034 17'
 */
export const vocabulary = {
  /** Organisations of a tenant; each holds three teams. */
  orgNames,
  teamNames,
  entityKinds,
  linkRoles: words('subject, beneficiary, victim, witness, related, counterparty'),
  person: (r: Random): string => `${r.pick(firstNames)} ${r.pick(lastNames)}`,
  caseTitle: (r: Random): string => `${r.weighted(subjects)} ${r.pick(contexts)} ${r.pick(places)}`,
  caseDescription(r: Random): string {
    const first = r.pick(sentences);
    const second = r.pick(sentences);
    const third = r.chance(0.5) ? ` ${r.pick(sentences)}` : '';
    return `${first} ${second}${third} Exposure so far: ${amount(r)}.`;
  },
  entityName(r: Random, kind: EntityKind): string {
    switch (kind) {
      case 'person':
        return vocabulary.person(r);
      case 'organization':
        return `${r.pick(places)} ${r.pick(companySuffixes)}`;
      case 'account':
        return `${r.pick(countries)}${r.int(10, 99)} ${r.pick(banks)} ${r.int(1000, 9999)} ${r.int(1000, 9999)} ${r.int(10, 99)}`;
      case 'device':
        return `${r.pick(devices)} ${r.hex(8)}`;
      case 'address':
        return `${r.int(1, 240)} ${r.pick(streets)}, ${r.pick(cities)}`;
      case 'ip':
        return r.chance(0.2) ? `2001:db8::${r.hex(4)}` : `${r.pick(ipv4Prefixes)}.${r.int(1, 254)}`;
    }
  },
  entityAttributes: (r: Random, kind: EntityKind): string =>
    JSON.stringify({
      risk: r.int(1, 100),
      country: r.pick(countries),
      source: kind === 'ip' ? 'login' : 'kyc',
    }),
  /** [kind, summary] of a timeline event. */
  event(r: Random): [string, string] {
    const kind = r.weighted(eventKinds);
    return [kind, eventSummary(r, kind)];
  },
  comment: (r: Random): string => (r.chance(0.3) ? `${r.pick(notes)} ${r.pick(notes)}` : r.pick(notes)),
};

const eventKinds: Weighted<string> = [
  ['transaction_flagged', 25],
  ['note', 20],
  ['status_changed', 10],
  ['document_uploaded', 8],
  ['alert_merged', 8],
  ['call_logged', 7],
  ['evidence_requested', 6],
  ['assigned', 6],
  ['login_observed', 6],
  ['sar_drafted', 2],
];

function eventSummary(r: Random, kind: string): string {
  switch (kind) {
    case 'transaction_flagged':
      return `Transaction of ${amount(r)} flagged by rule ${r.pick(rules)}`;
    case 'status_changed': {
      const from = r.int(0, statuses.length - 1);
      return `Status changed from ${statuses[from]} to ${statuses[(from + r.int(1, statuses.length - 1)) % statuses.length]}`;
    }
    case 'document_uploaded':
      return `Uploaded ${r.pick(documents)}`;
    case 'alert_merged':
      return `Alert ALR-${r.hex(6)} merged into this case`;
    case 'call_logged':
      return `Call with ${r.pick(parties)} logged (${r.int(2, 45)} min)`;
    case 'evidence_requested':
      return `Evidence requested from ${r.pick(places)}`;
    case 'assigned':
      return `Case reassigned to ${r.pick(teamNames)}`;
    case 'login_observed':
      return `Login from ${vocabulary.entityName(r, 'ip')} on a new device`;
    case 'sar_drafted':
      return 'Suspicious activity report drafted';
    default:
      return `Analyst note: ${r.pick(notes)}`;
  }
}

function amount(r: Random): string {
  return `${r.pick(['EUR', 'GBP', 'USD'])} ${r.int(20, 48_000)}.${String(r.int(0, 99)).padStart(2, '0')}`;
}
