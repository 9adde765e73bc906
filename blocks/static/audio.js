// Audio blocks: a button, bound to the block's key, plays and pauses the
// sound. Without this script the button stays hidden and the player's own
// controls do the same.
for (const button of document.querySelectorAll('[data-audio-toggle]')) {
  const audio = button.parentElement.querySelector('audio');
  if (!audio) continue;
  const label = button.querySelector('span');
  const show = () => { label.textContent = audio.paused ? 'Play' : 'Pause'; };
  button.addEventListener('click', () => {
    if (audio.paused) {
      audio.play().catch(() => {}); // a sound that fails to load says so in the player
    } else {
      audio.pause();
    }
  });
  audio.addEventListener('play', show);
  audio.addEventListener('pause', show);
  audio.addEventListener('ended', show);
  button.hidden = false;
}
