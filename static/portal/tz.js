// The browser's time zone for the server's local-time readings (schedules, preview), in a cookie.
(function () {
  let zone = "UTC";
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC"; } catch (e) { /* keep UTC */ }
  const current = (document.cookie.match(/(?:^|; )tz=([^;]*)/) || [])[1];
  if (current !== encodeURIComponent(zone)) {
    document.cookie = `tz=${encodeURIComponent(zone)}; path=/; max-age=31536000; SameSite=Lax`;
    // The page was rendered in the old zone: ask its live parts to render again.
    document.addEventListener("DOMContentLoaded", () => document.body.dispatchEvent(new Event("portal:resync")));
  }
})();
