// What the shop keeps in a session, typed through express-redis-kit's SessionData.
import 'express-redis-kit';

declare module 'express-redis-kit' {
  interface SessionData {
    /** The cart's id: `anon-<uuid>` before sign-in, `user-<userId>` after. */
    cartId: string;
    /** The CSRF token every form of this session carries. */
    csrf: string;
    /** Who is signed in, for the header and the admin check (the id is `req.session.userId`). */
    user: { name: string; role: 'customer' | 'admin' };
    /** A one-time message for the next page. */
    flash: string;
    /** Orders placed in this session, so a guest can see its confirmation. */
    orders: string[];
  }
}
