/** Resolves a host name to its addresses (DNS). Tests substitute a table. */
export interface Resolver {
  resolve(hostname: string): Promise<readonly string[]>;
}
