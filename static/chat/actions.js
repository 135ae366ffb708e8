// The chat's own Turbo Stream action. <turbo-stream action="highlight" target="message-4"> flashes
// the message that just arrived: the class runs a short CSS animation (chat.css) and is taken off
// when it ends. Turbo is imported from where hapi-turbo serves it, so this is the same Turbo the
// page runs, with the same StreamActions.

import { StreamActions } from '/_turbo/turbo.es2017-esm.js';

StreamActions.highlight = function () {

    for (const element of this.targetElements) {
        element.classList.add('highlight');
        element.addEventListener('animationend', () => element.classList.remove('highlight'), { once: true });
    }
};
