// How a signed-in device reads to people: "Chrome 130 on Linux" from its user agent, and its IP address.
import Bowser from 'bowser';

/** "Chrome 130 on Linux", "Safari 17 on iOS"; what is known of it when the user agent is unusual. */
export function deviceName(userAgent: string): string {
  if (!userAgent) return 'Unknown browser';
  const { browser, os } = Bowser.parse(userAgent);
  const major = browser.version?.split('.')[0];
  const name = browser.name ? `${browser.name}${major ? ` ${major}` : ''}` : 'Unknown browser';
  return os.name ? `${name} on ${os.name}` : name;
}

/** An IPv4 client seen through an IPv6 socket (`::ffff:127.0.0.1`) as people write it (`127.0.0.1`). */
export function readableIp(ip: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  return mapped?.[1] ?? ip;
}
