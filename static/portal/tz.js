// The browser's time zone for the server's local-time readings (schedules, preview), in a cookie.
(function () {
  let zone = "UTC";
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC"; } catch (e) { /* keep UTC */ }
  if (!/^[A-Za-z0-9_+\-\/]+$/.test(zone)) zone = "UTC";  // IANA names only: they need no escaping in a cookie
  const current = (document.cookie.match(/(?:^|; )tz=([^;]*)/) || [])[1];
  if (current !== zone) {
    document.cookie = `tz=${zone}; path=/; max-age=31536000; SameSite=Lax`;
    // The page was rendered in the old zone: ask its live parts to render again.
    document.addEventListener("DOMContentLoaded", () => document.body.dispatchEvent(new Event("portal:resync")));
  }
})();
