/**
 * Seed data for the demo brokerage behind `rampart demo` (see demo/brokerage.openapi.yaml).
 *
 * EVERYTHING HERE IS FICTITIOUS. The people, SSNs, account numbers, bank routing numbers, ticker
 * symbols and prices are made up and chosen so that nobody can mistake them for real ones:
 *   - SSNs start with 900, a range the SSA never issues (and the middle group is outside the ITIN
 *     ranges);
 *   - phone numbers are in the 555-0100..555-0199 block reserved for fiction;
 *   - e-mail addresses use example.com (RFC 2606);
 *   - bank routing numbers start with 99, which no ABA routing number does;
 *   - brokerage account numbers start with 99000;
 *   - ticker symbols name fictional companies, and their prices are invented.
 */

export type AccountType = 'cash' | 'margin' | 'ira_traditional' | 'ira_roth';
export type AccountStatus = 'open' | 'restricted' | 'closed';
export type OrderSide = 'buy' | 'sell';
export type OrderType = 'market' | 'limit';
export type TimeInForce = 'day' | 'gtc' | 'ioc' | 'fok';
export type OrderStatus = 'accepted' | 'partially_filled' | 'filled' | 'canceled' | 'rejected';
export type TransferDirection = 'deposit' | 'withdrawal';
export type TransferStatus = 'pending' | 'completed' | 'returned' | 'canceled';

export interface Address {
  line1: string;
  line2?: string;
  city: string;
  state: string;
  postalCode: string;
  country: string;
}

export interface Customer {
  id: string;
  name: string;
  ssn: string;
  dateOfBirth: string;
  email: string;
  phone: string;
  address: Address;
  createdAt: string;
}

export interface Account {
  id: string;
  customerId: string;
  type: AccountType;
  status: AccountStatus;
  accountNumber: string;
  currency: 'USD';
  cashBalance: number;
  openedAt: string;
}

/** A holding as stored: market value is derived from the quote when served. */
export interface Holding {
  accountId: string;
  symbol: string;
  quantity: number;
  costBasis: number;
}

export interface Order {
  id: string;
  accountId: string;
  clientOrderId?: string;
  symbol: string;
  side: OrderSide;
  type: OrderType;
  quantity: number;
  limitPrice?: number;
  timeInForce: TimeInForce;
  status: OrderStatus;
  filledQuantity: number;
  averageFillPrice?: number;
  createdAt: string;
  updatedAt: string;
  filledAt?: string;
  canceledAt?: string;
}

export interface Transfer {
  id: string;
  accountId: string;
  direction: TransferDirection;
  amount: number;
  currency: 'USD';
  status: TransferStatus;
  bankRoutingNumber: string;
  bankAccountLast4: string;
  memo?: string;
  createdAt: string;
  expectedSettlementDate: string;
}

export interface Instrument {
  symbol: string;
  name: string;
  bid: number;
  ask: number;
  last: number;
}

/** The whole mutable state of one upstream instance. */
export interface BrokerageState {
  customers: Map<string, Customer>;
  accounts: Map<string, Account>;
  /** Keyed by `${accountId}/${symbol}`. */
  holdings: Map<string, Holding>;
  orders: Map<string, Order>;
  transfers: Map<string, Transfer>;
  instruments: Map<string, Instrument>;
}

/** The demo's data subjects: the gateway's demo keys act for these customer ids. */
export const DEMO_CUSTOMER_IDS = { alice: 'cus_alice', bob: 'cus_bob' } as const;

/** Account ids by owner, handy for demo curl lines and ownership policies. */
export const DEMO_ACCOUNT_IDS = {
  aliceBrokerage: 'acc_alice_1',
  aliceIra: 'acc_alice_2',
  bobBrokerage: 'acc_bob_1',
  bobMargin: 'acc_bob_2',
} as const;

const CUSTOMERS: readonly Customer[] = [
  {
    id: 'cus_alice',
    name: 'Alice Example',
    ssn: '900-12-3456',
    dateOfBirth: '1984-03-14',
    email: 'alice@example.com',
    phone: '+12025550143',
    address: { line1: '100 Fictional Avenue', line2: 'Apt 4B', city: 'Anytown', state: 'NY', postalCode: '12345', country: 'US' },
    createdAt: '2021-06-01T14:03:11.000Z',
  },
  {
    id: 'cus_bob',
    name: 'Bob Sample',
    ssn: '900-23-4567',
    dateOfBirth: '1979-11-02',
    email: 'bob@example.com',
    phone: '+13125550178',
    address: { line1: '42 Placeholder Road', city: 'Sampleville', state: 'IL', postalCode: '54321', country: 'US' },
    createdAt: '2022-01-17T09:45:00.000Z',
  },
];

const ACCOUNTS: readonly Account[] = [
  { id: 'acc_alice_1', customerId: 'cus_alice', type: 'cash', status: 'open', accountNumber: '990001001001', currency: 'USD', cashBalance: 25_400.5, openedAt: '2021-06-01' },
  { id: 'acc_alice_2', customerId: 'cus_alice', type: 'ira_roth', status: 'open', accountNumber: '990001001002', currency: 'USD', cashBalance: 3_120.0, openedAt: '2022-02-10' },
  { id: 'acc_bob_1', customerId: 'cus_bob', type: 'cash', status: 'open', accountNumber: '990002002001', currency: 'USD', cashBalance: 8_765.43, openedAt: '2022-01-17' },
  { id: 'acc_bob_2', customerId: 'cus_bob', type: 'margin', status: 'restricted', accountNumber: '990002002002', currency: 'USD', cashBalance: 150.0, openedAt: '2023-04-03' },
];

const HOLDINGS: readonly Holding[] = [
  { accountId: 'acc_alice_1', symbol: 'ACME', quantity: 120, costBasis: 14_220.0 },
  { accountId: 'acc_alice_1', symbol: 'HOOLI', quantity: 35, costBasis: 7_105.35 },
  { accountId: 'acc_alice_2', symbol: 'GLOBX', quantity: 200, costBasis: 9_850.0 },
  { accountId: 'acc_bob_1', symbol: 'INITC', quantity: 500, costBasis: 6_125.0 },
  { accountId: 'acc_bob_1', symbol: 'ACME', quantity: 10, costBasis: 1_310.0 },
  { accountId: 'acc_bob_2', symbol: 'UMBRL', quantity: 40, costBasis: 2_360.8 },
];

const ORDERS: readonly Order[] = [
  {
    id: 'ord_alice_1', accountId: 'acc_alice_1', clientOrderId: 'alice-2024-0001', symbol: 'ACME', side: 'buy', type: 'market',
    quantity: 20, timeInForce: 'day', status: 'filled', filledQuantity: 20, averageFillPrice: 118.5,
    createdAt: '2024-05-02T13:31:02.000Z', updatedAt: '2024-05-02T13:31:02.250Z', filledAt: '2024-05-02T13:31:02.250Z',
  },
  {
    id: 'ord_alice_2', accountId: 'acc_alice_1', clientOrderId: 'alice-2024-0002', symbol: 'HOOLI', side: 'buy', type: 'limit',
    quantity: 10, limitPrice: 180.0, timeInForce: 'gtc', status: 'accepted', filledQuantity: 0,
    createdAt: '2024-05-03T14:00:00.000Z', updatedAt: '2024-05-03T14:00:00.000Z',
  },
  {
    id: 'ord_alice_3', accountId: 'acc_alice_2', symbol: 'GLOBX', side: 'buy', type: 'limit',
    quantity: 50, limitPrice: 47.25, timeInForce: 'day', status: 'canceled', filledQuantity: 0,
    createdAt: '2024-04-11T15:20:00.000Z', updatedAt: '2024-04-11T19:59:59.000Z', canceledAt: '2024-04-11T19:59:59.000Z',
  },
  {
    id: 'ord_bob_1', accountId: 'acc_bob_1', clientOrderId: 'bob-0001', symbol: 'INITC', side: 'sell', type: 'market',
    quantity: 100, timeInForce: 'day', status: 'filled', filledQuantity: 100, averageFillPrice: 12.8,
    createdAt: '2024-03-20T16:05:44.000Z', updatedAt: '2024-03-20T16:05:44.120Z', filledAt: '2024-03-20T16:05:44.120Z',
  },
  {
    id: 'ord_bob_2', accountId: 'acc_bob_1', clientOrderId: 'bob-0002', symbol: 'ACME', side: 'sell', type: 'limit',
    quantity: 5, limitPrice: 150.0, timeInForce: 'gtc', status: 'accepted', filledQuantity: 0,
    createdAt: '2024-05-06T13:45:00.000Z', updatedAt: '2024-05-06T13:45:00.000Z',
  },
];

const TRANSFERS: readonly Transfer[] = [
  {
    id: 'trf_alice_1', accountId: 'acc_alice_1', direction: 'deposit', amount: 10_000.0, currency: 'USD', status: 'completed',
    bankRoutingNumber: '990000011', bankAccountLast4: '4321', memo: 'Initial funding',
    createdAt: '2021-06-02T10:00:00.000Z', expectedSettlementDate: '2021-06-04',
  },
  {
    id: 'trf_alice_2', accountId: 'acc_alice_1', direction: 'withdrawal', amount: 1_250.75, currency: 'USD', status: 'completed',
    bankRoutingNumber: '990000011', bankAccountLast4: '4321',
    createdAt: '2024-02-15T18:22:00.000Z', expectedSettlementDate: '2024-02-20',
  },
  {
    id: 'trf_bob_1', accountId: 'acc_bob_1', direction: 'deposit', amount: 5_000.0, currency: 'USD', status: 'completed',
    bankRoutingNumber: '990000022', bankAccountLast4: '8765', memo: 'Paycheck',
    createdAt: '2022-01-18T12:00:00.000Z', expectedSettlementDate: '2022-01-20',
  },
  {
    id: 'trf_bob_2', accountId: 'acc_bob_1', direction: 'deposit', amount: 300.0, currency: 'USD', status: 'returned',
    bankRoutingNumber: '990000022', bankAccountLast4: '8765', memo: 'Returned: insufficient funds at bank',
    createdAt: '2024-01-08T12:00:00.000Z', expectedSettlementDate: '2024-01-10',
  },
];

/** Fictional companies with invented prices. */
const INSTRUMENTS: readonly Instrument[] = [
  { symbol: 'ACME', name: 'Acme Corporation (fictional)', bid: 131.2, ask: 131.26, last: 131.24 },
  { symbol: 'HOOLI', name: 'Hooli Inc. (fictional)', bid: 201.1, ask: 201.3, last: 201.18 },
  { symbol: 'GLOBX', name: 'Globex Corporation (fictional)', bid: 51.02, ask: 51.06, last: 51.04 },
  { symbol: 'INITC', name: 'Initech Systems (fictional)', bid: 12.41, ask: 12.44, last: 12.42 },
  { symbol: 'UMBRL', name: 'Umbrella Holdings (fictional)', bid: 58.9, ask: 59.05, last: 58.97 },
  { symbol: 'WAYNE', name: 'Wayne Enterprises (fictional)', bid: 342.5, ask: 342.9, last: 342.71 },
  { symbol: 'TYRL', name: 'Tyrell Robotics (fictional)', bid: 9.87, ask: 9.89, last: 9.88 },
];

export function holdingKey(accountId: string, symbol: string): string {
  return `${accountId}/${symbol}`;
}

/** A fresh, independent copy of the seed: each upstream instance mutates its own. */
export function createBrokerageState(): BrokerageState {
  const byId = <T extends { id: string }>(rows: readonly T[]) => new Map(rows.map((r) => [r.id, structuredClone(r)]));
  return {
    customers: byId(CUSTOMERS),
    accounts: byId(ACCOUNTS),
    holdings: new Map(HOLDINGS.map((h) => [holdingKey(h.accountId, h.symbol), { ...h }])),
    orders: byId(ORDERS),
    transfers: byId(TRANSFERS),
    instruments: new Map(INSTRUMENTS.map((i) => [i.symbol, { ...i }])),
  };
}

/** The owner (customer id) of each seeded account, for ownership policies in demo configs. */
export function demoAccountOwners(): Record<string, string> {
  return Object.fromEntries(ACCOUNTS.map((a) => [a.id, a.customerId]));
}
