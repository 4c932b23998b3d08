/** What the test webhook receiver (test/node/receiver.ts) records for each request. */
export interface ReceivedRequest {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: any;
  rawBody: string;
  receivedAt: number;
  /** When the answer was sent; null while it hangs or when the connection was dropped. */
  respondedAt: number | null;
}
