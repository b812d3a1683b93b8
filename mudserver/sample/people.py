"""People: a greeter (watch, hear, tell, use) and a guard on patrol (walk, arrive, timers, stop)."""

from __future__ import annotations

from mudserver.game import Player, Thing


class Greeter(Thing):
    """Welcomes each player who comes near, answers a hello, and gives advice when talked to.

    Shows: :meth:`watch` with :meth:`on_enter`/:meth:`on_leave`, :meth:`on_hear`,
    :meth:`tell`, :meth:`say`, :meth:`on_use` with verbs, and state in plain
    attributes (whom she greeted, and when).
    """

    kind = "npc"
    verbs = ("talk",)

    greeting: str = "Welcome to mudserver, {player}! Read the sign, and mind the sheep."
    advice: tuple[str, ...] = ("Try: use the signpost.",)
    #: How near a player comes before she greets them.
    radius: float = 8.0
    #: Seconds before she greets the same player again.
    regreet: float = 300.0
    hearing: float = 10.0

    #: Player name -> world time she last greeted them (state, set in on_spawn).
    greeted: dict[str, float]
    #: Which piece of advice she gives next.
    next_advice = 0

    def on_spawn(self) -> None:
        self.greeted = {}
        self.watch(self.radius)

    def on_enter(self, player: Player) -> None:
        last = self.greeted.get(player.name)
        if last is None or self.world.time - last >= self.regreet:
            self.greeted[player.name] = self.world.time
            self.tell(player, self.greeting.format(player=player.name))

    def on_leave(self, player: Player) -> None:
        if len(self.greeted) > 1000:  # remember the recent ones only
            cutoff = self.world.time - self.regreet
            self.greeted = {name: t for name, t in self.greeted.items() if t >= cutoff}

    def on_hear(self, player: Player, text: str) -> None:
        if any(word in text.lower() for word in ("hello", "hi ", "hey")):
            self.say(f"Hello, {player.name}!", radius=self.hearing)

    def on_use(self, player: Player, verb: str, text: str) -> str:
        advice = self.advice[self.next_advice % len(self.advice)] if self.advice else "Hello!"
        self.next_advice += 1
        return advice


class Guard(Thing):
    """Walks a round of posts, waits at each, and stops to look at a player who comes close.

    Shows: :meth:`walk_to`, :meth:`on_arrive`, :meth:`after`, :meth:`stop`,
    a :meth:`watch` that interrupts a walk, and a list parameter (the route).
    """

    kind = "npc"
    speed: float = 2.5
    route: tuple[tuple[float, float], ...] = ((15.0, 15.0), (15.0, -15.0), (-15.0, -15.0))
    #: Seconds he waits at each post.
    wait: float = 3.0
    lines: tuple[str, ...] = ("All quiet.",)

    #: State: the post he walks to next, and whom he stopped for, if anybody.
    post = 0
    watching = ""

    def on_spawn(self) -> None:
        self.post = 0
        self.watch(4.0)
        self.march()

    def march(self) -> None:
        x, y = self.route[self.post % len(self.route)]
        self.walk_to(x, y)

    def on_arrive(self) -> None:
        if self.post % len(self.route) == 0 and self.lines:
            self.say(self.lines[(self.post // len(self.route)) % len(self.lines)])
        self.post += 1
        self.after(self.wait, self.march)

    def on_enter(self, player: Player) -> None:
        if not self.watching and self.walking:
            self.watching = player.name
            self.stop()
            self.tell(player, "The guard looks you over, then nods.")
            self.after(2.0, self.resume)

    def resume(self) -> None:
        self.watching = ""
        self.march()

    def on_use(self, player: Player, verb: str, text: str) -> str:
        return "Move along. Nothing to see here."
