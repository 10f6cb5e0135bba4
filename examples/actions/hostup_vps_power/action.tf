# Power actions on web-01. Declaring them changes nothing; each runs only when invoked, sends its
# action once and waits until HostUp reports the VPS running (or stopped):
#
#   terraform apply -invoke=action.hostup_vps_power.start_web
#
# The API key needs the scope power:vm.
action "hostup_vps_power" "start_web" {
  config {
    vps_id = "vps_01j9k2web00000000000000001" # web-01
    action = "start"
  }
}

# A hard reset cuts off whatever runs in web-01: the plan warns, naming the VPS.
action "hostup_vps_power" "reset_web" {
  config {
    vps_id  = "vps_01j9k2web00000000000000001" # web-01
    action  = "reset"
    timeout = "5m" # default 10m
  }
}
