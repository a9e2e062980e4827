// forge UI: small progressive enhancements. Every page works without this script.
'use strict';
document.documentElement.classList.add('js');

// Copy buttons: <button data-copy="text">.
document.addEventListener('click', function (event) {
  var button = event.target instanceof Element ? event.target.closest('[data-copy]') : null;
  if (!button) return;
  event.preventDefault();
  var text = button.getAttribute('data-copy') || '';
  var label = button.getAttribute('data-label') || button.textContent;
  button.setAttribute('data-label', label);
  function done(ok) {
    button.textContent = ok ? 'Copied' : 'Press Ctrl+C';
    button.classList.toggle('copied', ok);
    setTimeout(function () {
      button.textContent = label;
      button.classList.remove('copied');
    }, 1500);
  }
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(fallbackCopy(text)); });
  } else {
    done(fallbackCopy(text));
  }
});

// Plain-http deployments have no clipboard API.
function fallbackCopy(text) {
  var area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.className = 'offscreen';
  document.body.appendChild(area);
  area.select();
  var ok = false;
  try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
  document.body.removeChild(area);
  return ok;
}

// Forms that destroy something ask first: <form data-confirm="Really?">.
document.addEventListener('submit', function (event) {
  var form = event.target;
  if (!(form instanceof HTMLFormElement)) return;
  var question = form.getAttribute('data-confirm');
  if (question && !window.confirm(question)) event.preventDefault();
});

// Menus (<details class="menu">) close on a click elsewhere or Escape.
document.addEventListener('click', function (event) {
  document.querySelectorAll('details.menu[open]').forEach(function (menu) {
    if (!menu.contains(event.target)) menu.removeAttribute('open');
  });
});
document.addEventListener('keydown', function (event) {
  if (event.key !== 'Escape') return;
  document.querySelectorAll('details.menu[open]').forEach(function (menu) { menu.removeAttribute('open'); });
});
