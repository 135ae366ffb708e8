// The room page refreshes by morphing (turbo_refreshes_with in views/chat/room_detail.html). The
// new page has the frames that load from their src (the send form's) empty, with the same src:
// morphed, they would be emptied and loaded again, and a message being typed would be lost. They are
// kept as they are instead; a frame whose src changed, or that the new page fills, is morphed as usual.

const sameUrl = (a, b) => new URL(a, document.baseURI).href === new URL(b, document.baseURI).href;

document.addEventListener('turbo:before-morph-element', (event) => {

    const { currentElement, newElement } = event.detail;
    if (currentElement.localName === 'turbo-frame' && newElement instanceof Element && !newElement.hasChildNodes() &&
        currentElement.hasAttribute('src') && newElement.hasAttribute('src') && sameUrl(currentElement.getAttribute('src'), newElement.getAttribute('src'))) {
        event.preventDefault();
    }
});
