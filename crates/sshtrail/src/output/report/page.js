// sshtrail evidence report: the player, the command timeline and the search
// of each terminal channel. Every time on the page is an offset in seconds
// from the connection's first event; the player's own clock is mapped to and
// from it (the player caps each gap between events at the idle limit, as
// asciinema-player 3.18 does).
(function () {
  'use strict';

  function pad(n, w) {
    var s = String(n);
    while (s.length < w) s = '0' + s;
    return s;
  }

  // 1m05.250s, as `sshtrail screen --at` takes it.
  function fmt(t) {
    var ms = Math.max(0, Math.floor(t * 1000 + 1e-6));
    var s = Math.floor(ms / 1000);
    return Math.floor(s / 60) + 'm' + pad(s % 60, 2) + '.' + pad(ms % 1000, 3) + 's';
  }

  // 90, 1m30s, 1h2m3.5s, +0m01.952s: seconds, or NaN.
  function parseOffset(text) {
    text = String(text).trim().replace(/^\+/, '');
    if (!/^[0-9.hms]+$/.test(text)) return NaN;
    var total = 0, num = '', any = false;
    for (var i = 0; i < text.length; i++) {
      var c = text[i];
      if (c === 'h' || c === 'm' || c === 's') {
        if (num === '' || isNaN(Number(num))) return NaN;
        total += Number(num) * (c === 'h' ? 3600 : c === 'm' ? 60 : 1);
        num = '';
        any = true;
      } else {
        num += c;
      }
    }
    if (num !== '') {
      if (isNaN(Number(num))) return NaN;
      total += Number(num);
      any = true;
    }
    return any ? total : NaN;
  }

  // The times of a cast's events (markers included: the player's idle
  // limiter, in its recording.js, goes over every event).
  function eventTimes(cast) {
    var lines = cast.split('\n');
    var times = [];
    for (var i = 1; i < lines.length; i++) {
      if (!lines[i]) continue;
      var e;
      try { e = JSON.parse(lines[i]); } catch (err) { continue; }
      times.push(e[0]);
    }
    return times;
  }

  // Player time of each event under the idle limit, as the player's
  // limiter computes it.
  function limited(times, limit) {
    var out = [], prevT = 0, shift = 0;
    for (var i = 0; i < times.length; i++) {
      var delta = times[i] - prevT - limit;
      prevT = times[i];
      if (delta > 0) shift += delta;
      out.push(times[i] - shift);
    }
    return out;
  }

  function lastAtOrBefore(arr, v) {
    var lo = 0, hi = arr.length - 1, ans = -1;
    while (lo <= hi) {
      var mid = (lo + hi) >> 1;
      if (arr[mid] <= v) { ans = mid; lo = mid + 1; } else { hi = mid - 1; }
    }
    return ans;
  }

  function Terminal(el) {
    this.el = el;
    this.base = Number(el.dataset.base);
    this.limit = Number(el.dataset.idle);
    // The parts' casts and the search index are parsed when first needed.
    this.parts = Array.prototype.map.call(el.querySelectorAll('script.part'), function (s) {
      return { start: Number(s.dataset.start), end: Number(s.dataset.end), script: s, cast: null };
    });
    this.index = null;
    this.box = el.querySelector('.player');
    this.part = -1;
    this.player = null;
    // Each part's event times, read when the part is first loaded.
    this.times = [];
    this.setup();
  }

  Terminal.prototype.effectiveLimit = function () {
    return this.limit > 0 ? this.limit : Infinity;
  };

  // Channel time to the loaded part's player time.
  Terminal.prototype.toPlayer = function (c) {
    var times = this.times[this.part];
    var lim = this.lim;
    var L = this.effectiveLimit();
    var i = lastAtOrBefore(times, c);
    if (i < 0) return Math.min(c, L);
    return lim[i] + Math.min(c - times[i], L);
  };

  Terminal.prototype.fromPlayer = function (p) {
    var times = this.times[this.part];
    var i = lastAtOrBefore(this.lim, p);
    if (i < 0) return p;
    return times[i] + (p - this.lim[i]);
  };

  Terminal.prototype.load = function (k) {
    if (this.player) {
      try { this.player.dispose(); } catch (e) { /* gone already */ }
      this.box.textContent = '';
    }
    this.part = k;
    var part = this.parts[k];
    if (part.cast === null) part.cast = JSON.parse(part.script.textContent);
    if (!this.times[k]) this.times[k] = eventTimes(part.cast);
    this.lim = limited(this.times[k], this.effectiveLimit());
    this.player = AsciinemaPlayer.create({ data: this.parts[k].cast }, this.box, {
      idleTimeLimit: this.effectiveLimit() === Infinity ? undefined : this.limit,
      preload: true,
      autoPlay: false,
      fit: 'width',
      controls: true
    });
    this.el.querySelector('select.part').value = String(k);
  };

  // Shows the moment `t` (seconds from the connection's start).
  Terminal.prototype.seek = function (t) {
    var self = this;
    var c = t - this.base;
    var k = 0;
    for (var i = 0; i < this.parts.length; i++) {
      if (this.parts[i].start <= c) k = i;
    }
    if (k !== this.part) this.load(k);
    var p = Math.max(0, this.toPlayer(c));
    this.el.dataset.seeking = String(t);
    return Promise.resolve(this.player.seek(p)).then(function () {
      self.el.dataset.at = String(t);
      self.showNow(t);
      self.box.scrollIntoView({ block: 'nearest' });
    });
  };

  Terminal.prototype.showNow = function (t) {
    this.el.querySelector('.now').textContent = '+' + fmt(t);
  };

  Terminal.prototype.search = function (q) {
    var list = this.el.querySelector('.hits');
    var count = this.el.querySelector('.hits-count');
    list.textContent = '';
    q = q.trim().toLowerCase();
    if (!q) { count.textContent = ''; return; }
    if (this.index === null) {
      this.index = JSON.parse(this.el.querySelector('script.index').textContent);
    }
    var self = this, n = 0, shown = 0;
    for (var i = 0; i < this.index.length; i++) {
      var e = this.index[i];
      if (e[1].toLowerCase().indexOf(q) < 0) continue;
      n++;
      if (shown >= 200) continue;
      shown++;
      var t = this.base + e[0];
      var li = document.createElement('li');
      var b = document.createElement('button');
      b.type = 'button';
      b.className = 'hit';
      b.dataset.t = String(t);
      var at = document.createElement('span');
      at.className = 'at';
      at.textContent = '+' + fmt(t);
      var code = document.createElement('code');
      code.textContent = e[1];
      b.appendChild(at);
      b.appendChild(document.createTextNode(' '));
      b.appendChild(code);
      b.addEventListener('click', (function (t) {
        // Just after the output that showed the line.
        return function () { self.seek(t + 0.0001); };
      })(t));
      li.appendChild(b);
      list.appendChild(li);
    }
    count.textContent = n === 0 ? 'No line shown on the screen contains it.'
      : n + ' moment(s) the screen showed it' + (n > shown ? ' (the first ' + shown + ' listed)' : '') + ':';
  };

  Terminal.prototype.setup = function () {
    var self = this, el = this.el;
    var controls = el.querySelector('.controls');
    var search = el.querySelector('.search');
    controls.hidden = false;
    search.hidden = false;
    var select = el.querySelector('select.part');
    this.parts.forEach(function (p, k) {
      var o = document.createElement('option');
      o.value = String(k);
      o.textContent = (k + 1) + ' of ' + self.parts.length + ': +' + fmt(self.base + p.start) + ' to +' + fmt(self.base + p.end);
      select.appendChild(o);
    });
    select.parentNode.hidden = this.parts.length < 2;
    select.addEventListener('change', function () {
      var k = Number(select.value);
      self.load(k);
      self.seek(self.base + self.parts[k].start);
    });
    var idle = el.querySelector('input.idle');
    idle.addEventListener('change', function () {
      var v = Number(idle.value);
      if (isNaN(v) || v < 0) return;
      var now = Number(el.dataset.at || self.base);
      self.limit = v;
      self.load(self.part);
      self.seek(now);
    });
    var go = function () {
      var t = parseOffset(el.querySelector('input.goto').value);
      if (!isNaN(t)) self.seek(t);
    };
    el.querySelector('button.go').addEventListener('click', go);
    el.querySelector('input.goto').addEventListener('keydown', function (e) {
      if (e.key === 'Enter') go();
    });
    el.querySelectorAll('button.cmd').forEach(function (b) {
      b.addEventListener('click', function () { self.seek(Number(b.dataset.t)); });
    });
    var q = el.querySelector('input.q');
    el.querySelector('button.find').addEventListener('click', function () { self.search(q.value); });
    q.addEventListener('keydown', function (e) {
      if (e.key === 'Enter') self.search(q.value);
    });
    if (this.parts.length) this.load(0);
    setInterval(function () {
      if (!self.player || !self.player.getCurrentTime) return;
      Promise.resolve(self.player.getCurrentTime()).then(function (p) {
        if (typeof p === 'number' && !isNaN(p)) {
          var t = self.base + self.fromPlayer(p);
          self.el.dataset.now = String(t);
          self.showNow(t);
        }
      });
    }, 250);
  };

  var terminals = [];
  document.querySelectorAll('.terminal').forEach(function (el) {
    terminals.push(new Terminal(el));
  });
  // Printed, the page is the transcripts and the timelines: long
  // transcripts, closed on screen, open for the printer.
  var closed = [];
  window.addEventListener('beforeprint', function () {
    closed = Array.prototype.filter.call(document.querySelectorAll('details.transcript-box'),
      function (d) { return !d.open; });
    closed.forEach(function (d) { d.open = true; });
  });
  window.addEventListener('afterprint', function () {
    closed.forEach(function (d) { d.open = false; });
    closed = [];
  });
  window.sshtrailReport = { terminals: terminals, fmt: fmt, parseOffset: parseOffset };
})();
