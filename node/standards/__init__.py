"""The node's side of the standards bridges (bridges/): imported documents become incident
writes, incidents are exported, and CoT streams to and from TAK."""
