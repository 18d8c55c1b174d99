// Preload for third-party servers without a host option: every listen() that names
// no host binds 127.0.0.1 instead of every interface.
import net from 'node:net';

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function patchedListen(...args) {
  if (typeof args[0] === 'number' && (args.length === 1 || typeof args[1] === 'function')) {
    args.splice(1, 0, '127.0.0.1');
  } else if (
    args[0] &&
    typeof args[0] === 'object' &&
    args[0].host === undefined &&
    args[0].path === undefined
  ) {
    args[0] = { ...args[0], host: '127.0.0.1' };
  }
  return listen.apply(this, args);
};
