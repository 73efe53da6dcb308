// Shows every <time data-local> in the viewer's own locale and time zone (the server only knows UTC).
(() => {
  // Spelled out field by field: dateStyle and timeStyle cannot be combined with timeZoneName.
  const format = new Intl.DateTimeFormat(undefined, {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    timeZoneName: 'short',
  });
  for (const element of document.querySelectorAll('time[data-local]')) {
    const date = new Date(element.getAttribute('datetime'));
    if (!Number.isNaN(date.getTime())) element.textContent = format.format(date);
  }
})();
