// Shows every <time data-local> in the viewer's own locale and time zone (the server only knows UTC).
(() => {
  const format = new Intl.DateTimeFormat(undefined, {
    dateStyle: 'medium',
    timeStyle: 'short',
    timeZoneName: 'short',
  });
  for (const element of document.querySelectorAll('time[data-local]')) {
    const date = new Date(element.getAttribute('datetime'));
    if (!Number.isNaN(date.getTime())) element.textContent = format.format(date);
  }
})();
