/** Who is calling, as admission established it. Later phases read it; they never re-authenticate. */
export interface Principal {
  readonly keyId: string;
  readonly role: 'admin' | 'user';
}
